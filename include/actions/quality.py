"""``quality_check`` and ``code_review``: analyse a checkout, store a review session, score it.

Both actions check the event's repository out at its commit, run the real
analysers (:mod:`include.analysis`), store every finding as a review session
in the app database (where the learning system reads them) and return small,
JSON-serialisable outputs for downstream nodes (conditions, comments).
"""

from __future__ import annotations

import logging
from typing import Any

from include.actions.context import ActionFailed, RunContext
from include.analysis import severity as sev
from include.analysis.checkout import CheckoutError, changed_files, checkout
from include.analysis.findings import Finding
from include.analysis.runners import AnalyzerError, analyze_checkout
from include.analysis.scoring import count_by_severity, quality_score
from include.db.session import session_scope
from include.enums import Severity
from include.reviews.store import ReviewInputError, record_review

log = logging.getLogger(__name__)

DEFAULT_ANALYZERS = ("ruff", "bandit", "radon")
SUMMARY_TOP = 10  # findings listed in the markdown summary
MAX_FILES_OUT = 200  # changed files passed on in outputs (reviewer recommendations use them)


def _event_target(node_id: str, event: dict[str, Any]) -> tuple[str, str | None, str | None]:
    clone_url = event.get("clone_url")
    if not clone_url:
        raise ActionFailed(node_id, "event.clone_url is missing: the run's conf must carry the repository to check out")
    return clone_url, event.get("sha"), event.get("ref")


def _repository(event: dict[str, Any]) -> str:
    """``owner/name`` of the event, or a readable stand-in from the clone URL."""
    if event.get("repository"):
        return str(event["repository"])
    url = str(event.get("clone_url", "")).rstrip("/").removesuffix(".git")
    parts = [p for p in url.replace(":", "/").split("/") if p]
    return "/".join(parts[-2:]) if len(parts) >= 2 else url or "unknown"


def _analyse(node_id: str, ctx: RunContext, analyzers: list[str], mode: str):
    """Check out the event's commit and analyse it; fast mode looks only at the change's files.

    The change's files are the event's ``files`` when the code host listed them
    (push events), else the files the commits not on ``base_ref`` touched (pull
    requests); with neither, fast mode analyses everything.
    """
    clone_url, sha, ref = _event_target(node_id, ctx.event)
    try:
        with checkout(clone_url, sha=sha, ref=ref) as co:
            only, scope = None, "all"
            if mode == "fast":
                if ctx.event.get("files") is not None:
                    only, scope = list(ctx.event["files"]), "event"
                elif ctx.event.get("base_ref"):
                    only = changed_files(co, str(ctx.event["base_ref"]))
                    scope = "commits" if only is not None else "all"
            result = analyze_checkout(co.path, analyzers or list(DEFAULT_ANALYZERS), only_files=only)
            return result, co.commit_sha, scope
    except CheckoutError as exc:
        raise ActionFailed(node_id, f"checkout failed: {exc}", retryable=True) from None
    except AnalyzerError as exc:
        raise ActionFailed(node_id, f"analysis failed: {exc}") from None


def summary_markdown(findings: list[Finding], score: float, passed: bool, threshold: float | None) -> str:
    """A short markdown report for comments and issues: counts, score, the worst findings."""
    counts = count_by_severity(findings)
    parts = ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "no issues"
    verdict = "passed" if passed else "failed"
    gate = f" (threshold {threshold:g})" if threshold is not None else ""
    lines = [f"**AutoPR review**: {len(findings)} issue(s) — {parts}. Quality score {score:g}/100, {verdict}{gate}."]
    worst = sorted(findings, key=lambda f: (-Severity(f.severity).rank, -f.confidence, f.file_path, f.line or 0))
    if worst:
        lines += ["", "| severity | location | rule | message |", "|---|---|---|---|"]
        for f in worst[:SUMMARY_TOP]:
            message = f.message.replace("|", "\\|").replace("\n", " ")
            lines.append(
                f"| {Severity(f.severity).value} | `{f.file_path}:{f.line or ''}` | {f.analyzer} {f.rule} | {message} |"
            )
        if len(worst) > SUMMARY_TOP:
            lines.append(f"\n…and {len(worst) - SUMMARY_TOP} more.")
    return "\n".join(lines)


def _store(node_id: str, ctx: RunContext, findings: list[Any], commit_sha: str, stats: dict[str, Any]) -> int:
    try:
        with session_scope() as session:
            row = record_review(
                session,
                ctx.project,
                _repository(ctx.event),
                findings,
                workflow_id=ctx.workflow_id,
                workflow_version=ctx.workflow_version,
                dag_id=ctx.dag_id,
                run_id=ctx.run_id,
                ref=ctx.event.get("ref"),
                commit_sha=commit_sha,
                pr_number=ctx.event.get("pr_number"),
                source="workflow",
                stats=stats,
            )
            return row.id
    except ReviewInputError as exc:
        raise ActionFailed(node_id, f"could not store the review: {exc}") from None


def quality_check(node_id: str, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Analyse, store, score.  ``passed`` = score >= ``quality_threshold`` and, with
    ``fail_on_error``, no error-level (high/critical) issue; with ``fail_on_error``
    a failed gate also fails the node — after the review session is stored.
    """
    mode = config.get("mode", "fast")
    threshold = float(config.get("quality_threshold", 70.0))
    fail_on_error = bool(config.get("fail_on_error", False))
    result, commit_sha, scope = _analyse(node_id, ctx, list(config.get("analyzers") or DEFAULT_ANALYZERS), mode)
    findings = result.findings
    score = quality_score(findings, result.analysed_lines)
    errors = sum(1 for f in findings if sev.is_error(f.severity))
    passed = score >= threshold and not (fail_on_error and errors)
    by_severity = count_by_severity(findings)
    summary = summary_markdown(findings, score, passed, threshold)
    session_id = _store(
        node_id,
        ctx,
        findings,
        commit_sha,
        {
            "quality_score": score,
            "errors_count": errors,
            "passed": passed,
            "mode": mode,
            "scope": scope,
            "files_analysed": len(result.files),
            "lines_analysed": result.analysed_lines,
            "node_id": node_id,
        },
    )
    outputs = {
        "session_id": session_id,
        "issues_count": len(findings),
        "errors_count": errors,
        "by_severity": by_severity,
        "quality_score": score,
        "passed": passed,
        "commit_sha": commit_sha,
        "files_analysed": len(result.files),
        "scope": scope,
        "changed_files": result.files[:MAX_FILES_OUT] if scope != "all" else [],
        "summary": summary,
    }
    log.info(
        "quality_check %s: %d issues, %d errors, score %s, passed=%s (session %s)",
        node_id,
        len(findings),
        errors,
        score,
        passed,
        session_id,
    )
    if fail_on_error and not passed:
        why = f"{errors} error-level issue(s)" if errors else f"quality score {score:g} below {threshold:g}"
        raise ActionFailed(node_id, f"quality gate failed: {why} (fail_on_error); review session {session_id}")
    return outputs


def _registry_exists() -> bool:
    """False when the MLflow store is a SQLite file that does not exist yet: no model can be registered.

    Asking MLflow anyway would create an empty tracking database as a side effect
    of a review (tens of seconds of schema migrations) only to learn there is no
    model.
    """
    from include.settings import get_settings

    uri = get_settings().mlflow_tracking_uri
    if uri.startswith("sqlite:///"):
        from pathlib import Path

        path = Path(uri.removeprefix("sqlite:///"))  # sqlite:////abs -> /abs, sqlite:///rel -> rel (cwd)
        if not path.exists():
            log.info("no model registry at %s yet; keeping analyser severities", uri)
            return False
    return True


def _model_predictions(findings: list[Finding], repository: str) -> list[dict[str, Any]] | None:
    """The learning system's severity/helpfulness predictions for ``findings``, or None.

    Calls ``ml.serving.predict_issues`` (an in-process, alias-cached MLflow
    model).  None — meaning "use the analysers' own severities", the documented
    fallback — when the learning system is not installed, no champion model is
    registered (``ModelUnavailable``), or the model fails: a model outage must
    never fail a review, and no score is ever invented.
    """
    if not _registry_exists():
        return None
    try:
        from ml import serving
    except ImportError:
        return None
    predict = getattr(serving, "predict_issues", None)
    if predict is None:
        return None
    try:
        predictions = predict([f.as_record() for f in findings], repository)
    except Exception as exc:  # noqa: BLE001 - ModelUnavailable and any model error: fall back
        level = logging.INFO if type(exc).__name__ == "ModelUnavailable" else logging.WARNING
        log.log(level, "severity model not used, keeping analyser severities: %s", exc)
        return None
    if not isinstance(predictions, list) or len(predictions) != len(findings):
        log.warning("severity model returned %s predictions for %d issues; ignoring them",
                    len(predictions) if isinstance(predictions, list) else "no", len(findings))  # fmt: skip
        return None
    return predictions


def _reviewed(finding: Finding, pred: dict[str, Any] | None) -> tuple[Finding, dict[str, Any]]:
    """(what reviewers see, what is stored) for one finding and its model prediction.

    Reviewers see the model's severity and, when a calibrated helpfulness model
    is served, its P(helpful) as the confidence.  The database keeps the
    analyser's severity in ``severity`` and the model's answer in
    ``predicted_severity``/``model_version``, so the learning system never
    trains on its own predictions.
    """
    record = finding.as_record()
    if pred is None:
        return finding, record
    shown_confidence = pred.get("helpfulness")
    if shown_confidence is None:
        shown_confidence = finding.confidence
    shown = finding.model_copy(update={"severity": Severity(pred["severity"]), "confidence": float(shown_confidence)})
    record.update(
        predicted_severity=Severity(pred["severity"]).value,
        model_version=str(pred.get("model_version"))[:100],
        context={
            **finding.context,
            "model_confidence": pred.get("confidence"),
            "arm": pred.get("arm"),
            "helpfulness": pred.get("helpfulness"),
            "shown_confidence": float(shown_confidence),
        },
    )
    return shown, record


def code_review(node_id: str, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Review the change: issues with severity and confidence, model-graded when a model is served.

    Issues below ``min_confidence`` are stored (marked ``hidden``) but not shown:
    ``issues_count`` counts shown issues, ``hidden_count`` the others.
    """
    min_confidence = float(config.get("min_confidence", 0.5))
    use_model = bool(config.get("use_model", True))
    # A review is about the change: only its files (see _analyse), unless a config says "full".
    result, commit_sha, scope = _analyse(
        node_id,
        ctx,
        list(config.get("analyzers") or DEFAULT_ANALYZERS),
        "full" if config.get("mode", "fast") == "full" else "fast",
    )
    predictions = _model_predictions(result.findings, _repository(ctx.event)) if use_model and result.findings else None
    shown: list[Finding] = []
    records: list[dict[str, Any]] = []
    for i, finding in enumerate(result.findings):
        view, record = _reviewed(finding, predictions[i] if predictions else None)
        if view.confidence < min_confidence:
            record["context"] = {**record["context"], "hidden": True}  # kept for the learning system, not shown
        else:
            shown.append(view)
        records.append(record)
    visible = shown
    hidden = len(records) - len(visible)
    model_version = str(predictions[0].get("model_version")) if predictions else None
    score = quality_score(visible, result.analysed_lines)
    errors = sum(1 for f in visible if sev.is_error(f.severity))
    summary = summary_markdown(visible, score, True, None)
    session_id = _store(
        node_id,
        ctx,
        records,
        commit_sha,
        {
            "quality_score": score,
            "errors_count": errors,
            "hidden_count": hidden,
            "min_confidence": min_confidence,
            "model_version": model_version,
            "scope": scope,
            "files_analysed": len(result.files),
            "node_id": node_id,
        },
    )
    return {
        "session_id": session_id,
        "issues_count": len(visible),
        "hidden_count": hidden,
        "errors_count": errors,
        "by_severity": count_by_severity(visible),
        "quality_score": score,
        "passed": errors == 0,
        "model_version": model_version,
        "severity_source": "model" if model_version else "analyzers",
        "commit_sha": commit_sha,
        "scope": scope,
        "changed_files": result.files[:MAX_FILES_OUT] if scope != "all" else [],
        "issues": [
            {
                k: f.as_record()[k]
                for k in ("file_path", "line", "rule", "analyzer", "severity", "message", "confidence")
            }
            for f in sorted(visible, key=lambda f: (-Severity(f.severity).rank, -f.confidence))[:50]
        ],
        "summary": summary,
    }
