"""record_review: validated input, existing projects only, workflow references resolved."""

from __future__ import annotations

import pytest

from include.db.models import Project, Workflow
from include.db.session import session_scope
from include.reviews.store import ReviewInputError, record_review

ISSUE = {
    "file_path": "a.py",
    "line": 3,
    "rule": "B602",
    "analyzer": "bandit",
    "severity": "critical",
    "message": "shell=True",
    "confidence": 0.9,
}


def test_records_issues_and_stats(project):
    with session_scope() as session:
        row = record_review(
            session,
            "acme",
            "acme/app",
            [ISSUE, {**ISSUE, "severity": "low", "line": None}],
            source="external-tool",
            pr_number=4,
            stats={"tool": "x"},
        )
        assert row.id and len(row.issues) == 2
        assert row.stats == {
            "issues_count": 2,
            "by_severity": {"info": 0, "low": 1, "medium": 0, "high": 0, "critical": 1},
            "tool": "x",
        }
        assert row.source == "external-tool" and row.workflow_id is None


def test_workflow_slug_resolves_to_the_row(project):
    with session_scope() as session:
        pid = session.query(Project.id).filter_by(slug="acme").scalar()
        wf = Workflow(project_id=pid, slug="pr-review", name="PR review", created_by="alice")
        session.add(wf)
        session.flush()
        by_slug = record_review(session, "acme", "acme/app", [], workflow_id="pr-review", workflow_version=2)
        by_id = record_review(session, "acme", "acme/app", [], workflow_id=str(wf.id))
        assert by_slug.workflow_id == wf.id == by_id.workflow_id


@pytest.mark.parametrize(
    ("issue", "message"),
    [
        ({**ISSUE, "severity": "catastrophic"}, r"issues\[0\]\.severity"),
        ({**ISSUE, "confidence": 1.5}, r"issues\[0\]\.confidence"),
        ({k: v for k, v in ISSUE.items() if k != "rule"}, r"issues\[0\]\.rule"),
        ({**ISSUE, "colour": "red"}, r"issues\[0\]\.colour"),
    ],
)
def test_bad_issues_are_named_and_nothing_is_stored(project, issue, message):
    from sqlalchemy import func, select

    from include.db.models import ReviewSession

    with pytest.raises(ReviewInputError, match=message), session_scope() as session:
        record_review(session, "acme", "acme/app", [ISSUE, issue][::-1])
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ReviewSession)) == 0


def test_unknown_project(db):
    with pytest.raises(ReviewInputError, match="project 'ghost' does not exist"), session_scope() as session:
        record_review(session, "ghost", "acme/app", [ISSUE])
