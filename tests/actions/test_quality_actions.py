"""quality_check / code_review through run_node: real analysers, review sessions in PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from include.actions import ActionFailed, run_node
from include.db.models import ReviewIssue, ReviewSession
from include.db.session import session_scope
from tests.actions.conftest import make_ctx


def _event(repo, **extra):
    return {
        "kind": "pr_opened",
        "repository": "acme/app",
        "clone_url": repo.url,
        "sha": repo.bad_sha,
        "ref": "main",
        "pr_number": 7,
        **extra,
    }


def _node(action, **config):
    return {"id": f"{action}_1", "type": "action", "label": action, "config": {"action": action, **config}}


def test_quality_check_stores_a_review_session(project, git_repo):
    ctx = make_ctx(_event(git_repo))
    out = run_node(
        _node(
            "quality_check",
            mode="full",
            analyzers=["ruff", "bandit", "radon"],
            fail_on_error=False,
            quality_threshold=80,
        ),
        ctx,
    )
    assert out["issues_count"] >= 6
    assert out["by_severity"]["critical"] == 1 and out["by_severity"]["high"] == 1
    assert out["errors_count"] == 2
    assert 0 < out["quality_score"] < 80 and out["passed"] is False
    assert "B602" in out["summary"]

    with session_scope() as session:
        row = session.get(ReviewSession, out["session_id"])
        assert row.repository == "acme/app" and row.commit_sha == git_repo.bad_sha and row.pr_number == 7
        assert row.source == "workflow" and row.dag_id == "wf_acme_pr_review" and row.workflow_version == 3
        assert row.workflow_id is None and row.stats["workflow_ref"] == "pr-review"  # workflow not in the DB
        assert row.stats["quality_score"] == out["quality_score"]
        issues = session.scalars(select(ReviewIssue).where(ReviewIssue.session_id == row.id)).all()
        assert len(issues) == out["issues_count"]
        shell = next(i for i in issues if i.rule == "B602")
        assert (shell.file_path, shell.line, shell.analyzer, shell.severity.value) == (
            "app/bad.py",
            7,
            "bandit",
            "critical",
        )


def test_fast_mode_uses_the_event_files(project, git_repo):
    ctx = make_ctx(_event(git_repo, files=["clean.py"]))
    out = run_node(_node("quality_check", mode="fast", quality_threshold=90), ctx)
    assert out["issues_count"] == 0 and out["quality_score"] == 100.0 and out["passed"] is True
    assert out["files_analysed"] == 1


def test_fast_mode_on_a_pull_request_analyses_its_commits(project, git_repo):
    ctx = make_ctx(_event(git_repo, base_ref="main"))
    out = run_node(_node("quality_check", mode="fast"), ctx)
    assert out["scope"] == "commits" and out["files_analysed"] == 1  # app/bad.py; clean.py is not in the PR
    assert out["by_severity"]["critical"] == 1


def test_fail_on_error_fails_after_storing(project, git_repo):
    ctx = make_ctx(_event(git_repo))
    with pytest.raises(ActionFailed, match="error-level") as info:
        run_node(_node("quality_check", mode="full", fail_on_error=True, quality_threshold=0), ctx)
    assert info.value.node_id == "quality_check_1" and not info.value.retryable
    with session_scope() as session:
        assert session.scalar(select(ReviewSession.stats))["passed"] is False


def test_unknown_project_is_a_named_error(db, git_repo):
    ctx = make_ctx(_event(git_repo), project="nope")
    with pytest.raises(ActionFailed, match="project 'nope' does not exist"):
        run_node(_node("quality_check", mode="full"), ctx)


def test_missing_clone_url_names_the_field(project):
    with pytest.raises(ActionFailed, match="event.clone_url"):
        run_node(_node("quality_check"), make_ctx({"kind": "manual"}))


def test_code_review_hides_low_confidence_issues(project, git_repo):
    ctx = make_ctx(_event(git_repo))
    everything = run_node(_node("code_review", min_confidence=0.0, use_model=True), ctx)
    strict = run_node(_node("code_review", min_confidence=0.85, use_model=True), ctx)
    assert everything["hidden_count"] == 0
    assert strict["hidden_count"] > 0
    assert strict["issues_count"] + strict["hidden_count"] == everything["issues_count"]
    assert all(i["confidence"] >= 0.85 for i in strict["issues"])
    assert everything["severity_source"] in ("analyzers", "model")
    with session_scope() as session:
        stored = session.scalar(select(ReviewSession).where(ReviewSession.id == strict["session_id"]))
        assert len(stored.issues) == everything["issues_count"]  # hidden issues are kept for learning
        assert sum(1 for i in stored.issues if i.context.get("hidden")) == strict["hidden_count"]


def test_unknown_node_type_is_named():
    with pytest.raises(ActionFailed, match="no implementation"):
        run_node({"id": "x", "type": "action", "config": {"action": "teleport"}}, make_ctx())


def test_model_answers_are_shown_but_analyser_severity_is_stored():
    """How a served model's answer (ml.serving.predict_issues shape) is used; the model itself is not faked."""
    from include.actions.quality import _reviewed
    from include.analysis.findings import Finding

    finding = Finding(
        file_path="a.py", line=3, rule="B307", analyzer="bandit", severity="high", message="eval", confidence=0.9
    )
    pred = {
        "severity": "critical",
        "confidence": 0.7,
        "probabilities": {},
        "model_version": "4",
        "arm": "champion",
        "helpfulness": 0.35,
        "hidden": True,
    }
    shown, record = _reviewed(finding, pred)
    assert (shown.severity.value, shown.confidence) == ("critical", 0.35)  # calibrated P(helpful) is shown
    assert (record["severity"], record["predicted_severity"], record["model_version"]) == ("high", "critical", "4")
    assert _reviewed(finding, None) == (finding, finding.as_record())


def test_no_model_registry_means_analyser_severities():
    from include.actions.quality import _model_predictions
    from include.analysis.findings import Finding

    finding = Finding(file_path="a.py", rule="F401", analyzer="ruff", severity="low", message="unused")
    assert _model_predictions([finding], "acme/app") is None
