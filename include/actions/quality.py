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
from include.db.models import Severity
from include.db.session import session_scope
from include.reviews.store import ReviewInputError, record_review

log = logging.getLogger(__name__)

DEFAULT_ANALYZERS = ("ruff", "bandit", "radon")
SUMMARY_TOP = 10  # findings listed in the markdown summary


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


def _store(node_id: str, ctx: RunContext, findings: list[Finding], commit_sha: str, stats: dict[str, Any]) -> int:
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


def _model_scores(findings: list[Finding], repository: str) -> tuple[list[Finding], str | None]:
    """Let the served severity model re-grade findings, when the learning system serves one.

    Returns the findings unchanged (and no model version) when ``ml.serving`` is
    not installed or has no model loaded: the analysers' own severities are the
    documented fallback, never an invented score.
    """
    try:
        from ml import serving
    except ImportError:
        return findings, None
    score = getattr(serving, "score_issues", None)
    if score is None:
        return findings, None
    try:
        scored = score([f.as_record() for f in findings], repository=repository)
    except Exception as exc:  # noqa: BLE001 - a model outage must not fail the review
        log.warning("severity model unavailable, using analyser severities: %s", exc)
        return findings, None
    if not scored:
        return findings, None
    out: list[Finding] = []
    version = None
    for finding, pred in zip(findings, scored.get("predictions", []), strict=False):
        version = scored.get("model_version")
        context = {
            **finding.context,
            "analyzer_severity": Severity(finding.severity).value,
            "analyzer_confidence": finding.confidence,
        }
        out.append(
            finding.model_copy(
                update={
                    "severity": Severity(pred.get("severity", finding.severity)),
                    "confidence": float(pred.get("confidence", finding.confidence)),
                    "context": context,
                }
            )
        )
    return (out, version) if len(out) == len(findings) else (findings, None)


def code_review(node_id: str, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    min_confidence = float(config.get("min_confidence", 0.5))
    use_model = bool(config.get("use_model", True))
    # A review is about the change: only its files (see _analyse), unless a config says "full".
    result, commit_sha, scope = _analyse(
        node_id,
        ctx,
        list(config.get("analyzers") or DEFAULT_ANALYZERS),
        "full" if config.get("mode", "fast") == "full" else "fast",
    )
    findings = result.findings
    model_version = None
    if use_model and findings:
        findings, model_version = _model_scores(findings, _repository(ctx.event))
    visible = [f for f in findings if f.confidence >= min_confidence]
    hidden = len(findings) - len(visible)
    for f in findings:
        if f.confidence < min_confidence:
            f.context["hidden"] = True  # stored for the learning system, not shown to reviewers
        if model_version:
            f.context["model_version"] = model_version
    score = quality_score(visible, result.analysed_lines)
    errors = sum(1 for f in visible if sev.is_error(f.severity))
    summary = summary_markdown(visible, score, True, None)
    session_id = _store(
        node_id,
        ctx,
        findings,
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
        "issues": [
            {
                k: f.as_record()[k]
                for k in ("file_path", "line", "rule", "analyzer", "severity", "message", "confidence")
            }
            for f in sorted(visible, key=lambda f: (-Severity(f.severity).rank, -f.confidence))[:50]
        ],
        "summary": summary,
    }
