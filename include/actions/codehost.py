"""Code-host actions: comment, label, request reviewers, open an issue, merge, publish a review.

Each action reads the repository and pull-request number from the run's event,
calls GitHub through :mod:`include.codehost.github` (the Airflow GitHub
provider's connection) and returns what it did.  In a dry run (``ctx.capture``
set) the client reads for real and captures every write
(:mod:`include.codehost.capture`): the actions run unchanged and what they
would have posted is recorded instead.  HTTP failures become
:class:`ActionFailed` naming the call and GitHub's answer; 5xx and rate limits
are marked retryable, validation errors are not.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from include.actions.context import ActionFailed, RunContext
from include.actions.templating import render
from include.codehost.github import DEFAULT_CONN_ID, CodeHostError, GitHubActions, github_client

log = logging.getLogger(__name__)

# Conclusions GitHub itself accepts for a required status check.
PASSING_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})


def _client(node_id: str, config: dict[str, Any], ctx: RunContext) -> GitHubActions:
    repository = (ctx.event or {}).get("repository")
    if not repository:
        raise ActionFailed(node_id, 'event.repository ("owner/name") is required to call the code host')
    conn_id = config.get("connection_id") or DEFAULT_CONN_ID
    try:
        client = github_client(conn_id)
        if ctx.capture is not None:
            from include.codehost.capture import capturing

            client = capturing(client, ctx.capture)
        return GitHubActions(client, repository)
    except ValueError as exc:
        raise ActionFailed(node_id, f"code-host connection {conn_id!r}: {exc}") from None
    except Exception as exc:  # connection not defined, bad GitHub App key, ...
        if type(exc).__name__ == "AirflowNotFoundException":
            raise ActionFailed(node_id, f"Airflow connection {conn_id!r} is not defined") from None
        raise


def _number(node_id: str, ctx: RunContext, *, pull_only: bool = False) -> int:
    event = ctx.event or {}
    number = event.get("pr_number") or (None if pull_only else event.get("issue_number"))
    if not number:
        what = "event.pr_number" if pull_only else "event.pr_number or event.issue_number"
        raise ActionFailed(node_id, f"{what} is required (this run's event is {event.get('kind', 'unknown')!r})")
    return int(number)


def _failed(node_id: str, exc: CodeHostError) -> ActionFailed:
    retryable = exc.status is None or exc.status >= 500 or exc.status == 429
    return ActionFailed(node_id, str(exc), retryable=retryable)


def post_comment(node_id: str, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    body = render(node_id, "template", config.get("template") or "{summary}", ctx)
    if not body.strip():
        raise ActionFailed(node_id, "config.template rendered an empty comment")
    gh, number = _client(node_id, config, ctx), _number(node_id, ctx)
    try:
        out = gh.post_comment(number, body)
    except CodeHostError as exc:
        raise _failed(node_id, exc) from None
    return {**out, "pr_number": number, "body_length": len(body)}


def label_pr(node_id: str, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    labels = [render(node_id, "labels", label, ctx) for label in config.get("labels") or []]
    remove = [render(node_id, "remove", label, ctx) for label in config.get("remove") or []]
    if not labels and not remove:
        raise ActionFailed(node_id, "config.labels and config.remove are both empty")
    gh, number = _client(node_id, config, ctx), _number(node_id, ctx)
    try:
        added = gh.add_labels(number, labels) if labels else []
        removed = [name for name in remove if gh.remove_label(number, name)]
    except CodeHostError as exc:
        raise _failed(node_id, exc) from None
    return {"pr_number": number, "added": added, "removed": removed}


def _change_files(ctx: RunContext) -> list[str]:
    """The change's files: the event's list, else what an upstream analysis saw changed."""
    files = (ctx.event or {}).get("files")
    if files:
        return list(files)
    for outputs in (ctx.upstream or {}).values():
        if isinstance(outputs, dict) and isinstance(outputs.get("changed_files"), list):
            return list(outputs["changed_files"])
    return []


def _recommended_reviewers(ctx: RunContext, count: int = 2) -> tuple[list[str], str]:
    """Reviewers learned from the project's recorded change history (:mod:`ml.reviewer_service`).

    The same service the ``/recommendations/reviewers`` API asks: the project's
    ranker fitted on its closed changes, with open review requests as load.
    Returns ``([], reason)`` when the learning system is not installed, the
    project has no history yet or the change's files are unknown.
    """
    try:
        from ml.reviewer_service import recommend_reviewers
    except ImportError:
        return [], "unavailable"
    from sqlalchemy import select

    from include.db.models import Project
    from include.db.session import session_scope

    files = _change_files(ctx)
    author = (ctx.event or {}).get("author") or ""
    if not files:
        return [], "no-files"
    try:
        with session_scope() as session:
            project_id = session.scalar(select(Project.id).where(Project.slug == ctx.project))
            if project_id is None:
                return [], "no-project"
            answer = recommend_reviewers(session, project_id, files, author, limit=count, exclude=[author])
    except Exception as exc:  # noqa: BLE001 - recommendations are a bonus; never fail the request on them
        log.warning("reviewer recommendations unavailable: %s", exc)
        return [], "error"
    if not answer.history_changes:
        return [], "no-history"
    return [r.reviewer for r in answer.reviewers], "learned" if answer.learned else "path-share"


def request_review(node_id: str, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    reviewers = list(config.get("reviewers") or [])
    teams = list(config.get("team_reviewers") or [])
    source = "config"
    if config.get("use_recommendations"):
        recommended, source = _recommended_reviewers(ctx)
        author = (ctx.event or {}).get("author")
        reviewers += [r for r in recommended if r not in reviewers and r != author]
    if not reviewers and not teams:
        # Only reachable with use_recommendations and nobody named (the config schema requires one of
        # the three): until the learning system serves recommendations there is no one to ask, which
        # is a documented no-op, not a failure of the pull request's workflow.
        log.warning("node %s: no reviewers to request (recommendations: %s); nothing sent", node_id, source)
        return {
            "requested_reviewers": [],
            "requested_teams": [],
            "pr_number": (ctx.event or {}).get("pr_number"),
            "recommendation_source": source,
            "skipped": "no reviewers configured or recommended",
        }
    gh, number = _client(node_id, config, ctx), _number(node_id, ctx, pull_only=True)
    try:
        out = gh.request_reviewers(number, reviewers, teams)
    except CodeHostError as exc:
        raise _failed(node_id, exc) from None
    return {**out, "pr_number": number, "recommendation_source": source}


def create_issue(node_id: str, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    title = render(node_id, "title_template", config.get("title_template") or "", ctx).strip()
    if not title:
        raise ActionFailed(node_id, "config.title_template rendered an empty title")
    body = render(node_id, "body_template", config.get("body_template") or "{summary}", ctx)
    labels = [render(node_id, "labels", label, ctx) for label in config.get("labels") or []]
    gh = _client(node_id, config, ctx)
    try:
        return gh.create_issue(title[:256], body, labels)
    except CodeHostError as exc:
        raise _failed(node_id, exc) from None


def merge_pr(node_id: str, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    method = config.get("method", "merge")
    required = list(config.get("required_checks") or [])
    gh, number = _client(node_id, config, ctx), _number(node_id, ctx, pull_only=True)
    try:
        head_sha = gh.pull_head_sha(number)
        expected = (ctx.event or {}).get("sha")
        if expected and expected != head_sha:
            raise ActionFailed(
                node_id,
                f"PR #{number} head moved from {expected[:12]} to {head_sha[:12]}; not merging "
                "a commit this run did not check",
            )
        if required:
            latest: dict[str, Any] = {}
            for run in sorted(gh.check_runs(head_sha), key=lambda r: r.id):
                latest[run.name] = run  # the newest run of a check decides (re-runs replace older ones)
            problems = []
            for name in required:
                run = latest.get(name)
                if run is None:
                    problems.append(f"{name!r} has not run")
                elif run.status != "completed":
                    problems.append(f"{name!r} is {run.status}")
                elif run.conclusion not in PASSING_CONCLUSIONS:
                    problems.append(f"{name!r} concluded {run.conclusion}")
            if problems:
                raise ActionFailed(
                    node_id, f"not merging PR #{number} at {head_sha[:12]}: required check " + "; ".join(problems)
                )
        out = gh.merge(number, method, sha=head_sha)
    except CodeHostError as exc:
        raise _failed(node_id, exc) from None
    return {**out, "pr_number": number, "head_sha": head_sha, "method": method, "checks": required}


# --- publish_review: the review on the pull request's lines, a check run, one summary comment --------


def _review_findings(node_id: str, ctx: RunContext) -> tuple[list[dict[str, Any]], int | None]:
    """The shown findings of the upstream review: all of them from its stored session, else its outputs' list."""
    for outputs in (ctx.upstream or {}).values():
        if not isinstance(outputs, dict) or not ("issues" in outputs or "session_id" in outputs):
            continue  # quality_check stores its findings without listing them in its outputs
        session_id = outputs.get("session_id")
        if session_id:
            from sqlalchemy import select

            from include.db.models import ReviewIssue
            from include.db.session import session_scope

            with session_scope() as session:
                rows = session.scalars(
                    select(ReviewIssue).where(ReviewIssue.session_id == int(session_id)).order_by(ReviewIssue.id)
                ).all()
                return [
                    {"file_path": r.file_path, "line": r.line, "rule": r.rule, "analyzer": r.analyzer,
                     "severity": (r.predicted_severity or r.severity).value, "message": r.message}
                    for r in rows if not (r.context or {}).get("hidden")
                ], int(session_id)  # fmt: skip
        return list(outputs["issues"]), None
    raise ActionFailed(node_id, "publish_review needs an upstream quality_check or code_review node")


def _details_url(config: dict[str, Any], ctx: RunContext, session_id: int | None) -> str:
    from include.settings import get_settings

    settings = get_settings()
    base = (config.get("dashboard_url") or f"http://{settings.dashboard_host}:{settings.dashboard_port}").rstrip("/")
    return f"{base}/?project={ctx.project}&workflow={ctx.workflow_id}" + (f"&review={session_id}" if session_id else "")


def _check_run(gh: GitHubActions, config: dict[str, Any], ctx: RunContext, sha: str, findings, failed: bool,
               session_id: int | None) -> dict[str, Any]:  # fmt: skip
    """Create the check run and add its annotations in GitHub's batches; the last request concludes it."""
    from include.codehost.review_output import annotation, batches

    chunks = batches([annotation(f) for f in findings])
    output = {
        "title": f"{len(findings)} finding(s)",
        "summary": f"AutoPR review of {sha[:12]}: {len(findings)} finding(s).",
    }
    conclusion = "failure" if failed else "success"
    done = {"status": "completed", "conclusion": conclusion}
    first = {"name": config.get("check_name") or "AutoPR review", "head_sha": sha,
             "details_url": _details_url(config, ctx, session_id), "external_id": ctx.run_id,
             "output": {**output, "annotations": chunks[0]}, **(done if len(chunks) == 1 else {"status": "in_progress"})}  # fmt: skip
    run = gh.create_check_run(first)
    for i, chunk in enumerate(chunks[1:], start=2):
        gh.update_check_run(
            run["id"], {"output": {**output, "annotations": chunk}, **(done if i == len(chunks) else {})}
        )
    return {"check_run_id": run["id"], "conclusion": conclusion, "annotations": sum(map(len, chunks)),
            "check_run_requests": len(chunks)}  # fmt: skip


# An edit GitHub refuses because the comment is gone or not the bot's (someone quoted a marker).
_NOT_OURS = (403, 404)


def _summary_comment(gh: GitHubActions, number: int, marker: str, body: str) -> dict[str, Any]:
    """Edit the one summary comment of this project/workflow in place, or write it the first time."""
    for comment in gh.issue_comments(number):
        if (comment.get("body") or "").startswith(marker):
            try:
                gh.edit_issue_comment(int(comment["id"]), body)
            except CodeHostError as exc:
                if exc.status not in _NOT_OURS:
                    raise
                continue
            return {"summary_comment_id": comment["id"], "summary_edited": True}
    created = gh.create_issue_comment(number, body)
    return {"summary_comment_id": created["id"], "summary_edited": False}


# Code scanning's answers when it is not enabled, not allowed for the token, or the repository is archived.
_NO_CODE_SCANNING = (403, 404)


def _upload_sarif(node_id: str, gh: GitHubActions, config: dict[str, Any], number: int, sha: str,
                  session_id: int | None) -> dict[str, Any]:  # fmt: skip
    """The stored review's SARIF to code scanning, on the pull request's head ref.

    A repository where code scanning is off or the token may not write to it
    (403/404) is common and says nothing about the change, so it does not fail
    the review: the refusal is logged, returned in ``sarif_upload`` and named in
    the summary comment.  Other failures fail the node like any code-host call.
    The analysis is named after the check (``tool_name``), so two workflows
    reviewing one pull request keep separate analyses instead of replacing each other's.
    """
    if session_id is None:
        return {"sarif_upload": "skipped: the upstream review is not stored, so there is no SARIF to upload"}
    from include.db.models import ReviewSession
    from include.db.session import session_scope
    from include.reviews.sarif import repository_uri, review_log
    from include.settings import get_settings

    with session_scope() as session:
        review = session.get(ReviewSession, session_id)
        if review is None:
            return {"sarif_upload": f"skipped: review {session_id} is not stored"}
        sarif_log = review_log(session, review, repository_uri(get_settings().github_api_url, review.repository))
    try:
        receipt = gh.upload_sarif(sha, f"refs/pull/{number}/head", sarif_log,
                                  config.get("check_name") or "AutoPR review")  # fmt: skip
    except CodeHostError as exc:
        if exc.status not in _NO_CODE_SCANNING:
            raise
        log.warning("node %s: code scanning refused the SARIF upload (review %s stays published): %s",
                    node_id, session_id, exc)  # fmt: skip
        return {"sarif_upload": f"refused: {exc}"}
    return {"sarif_upload": "uploaded", "sarif_id": (receipt or {}).get("id")}


def _sarif_note(out: dict[str, Any]) -> str:
    said = out.get("sarif_upload")
    if not said:
        return ""
    if said == "uploaded":
        return "\n\nSARIF uploaded to code scanning."
    return f"\n\nSARIF not uploaded to code scanning ({said})."


def publish_review(node_id: str, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """The upstream review on the pull request: inline comments, a check run, one summary edited in place.

    The check run annotates every finding, but its conclusion looks only at the findings the
    filter mode keeps: the gate is about the change, like the comments.  Earlier comments whose
    finding is gone are edited ("fixed in <sha>", struck through) through REST rather than
    resolved through GraphQL, so one token scope and one client serve all of it.  With
    ``upload_sarif`` the stored review also goes to code scanning (:func:`_upload_sarif`).
    """
    from include.codehost.diff import parse_patch
    from include.codehost.review_output import (
        fails,
        fingerprinted,
        plan_review,
        review_body,
        summary_details,
        summary_marker,
    )

    mode = config.get("filter_mode", "added")
    raw, session_id = _review_findings(node_id, ctx)
    findings = fingerprinted(raw)
    gh, number = _client(node_id, config, ctx), _number(node_id, ctx, pull_only=True)
    try:
        sha = (ctx.event or {}).get("sha") or gh.pull_head_sha(number)
        diffs = {f["filename"]: parse_patch(f["filename"], f.get("patch")) for f in gh.pull_files(number)}
        plan = plan_review(findings, diffs, mode, gh.review_comments(number), sha)
        out: dict[str, Any] = {"pr_number": number, "head_sha": sha, "filter_mode": mode,
                               "comments_added": len(plan.new_comments), "comments_unchanged": plan.unchanged,
                               "comments_fixed": len(plan.fixed), "outside_filter": plan.outside_filter,
                               "outside_diff": len(plan.outside_diff)}  # fmt: skip
        if config.get("inline_comments", True):
            if plan.new_comments:  # nothing new: no review (a push that changes nothing adds nothing)
                review = gh.create_review(number, sha, review_body(plan, mode), plan.new_comments)
                out["review_id"] = review["id"]
            for comment_id, body in plan.fixed:
                try:
                    gh.edit_review_comment(comment_id, body)
                except CodeHostError as exc:
                    if exc.status not in _NOT_OURS:
                        raise
                    out["comments_fixed"] -= 1
        failed = fails(plan.kept, config.get("fail_level", "high"))
        out["passed"] = not failed
        if config.get("check_run", True):
            out.update(_check_run(gh, config, ctx, sha, findings, failed, session_id))
        if config.get("upload_sarif", False):  # before the summary, which says how it went
            out.update(_upload_sarif(node_id, gh, config, number, sha, session_id))
        if config.get("summary_comment", True):
            marker = summary_marker(ctx.project, ctx.workflow_id)
            by_severity = Counter(f.severity for f in findings)
            counts = ", ".join(f"{n} {s}" for s, n in sorted(by_severity.items())) or "none"
            body = (f"{marker}\n**AutoPR review** of {sha[:12]}: {len(findings)} finding(s) ({counts}); "
                    f"{'❌ failed' if failed else '✅ passed'} at fail level `{config.get('fail_level', 'high')}`.\n\n"
                    + summary_details(plan, mode) + _sarif_note(out))  # fmt: skip
            out.update(_summary_comment(gh, number, marker, body))
    except CodeHostError as exc:
        raise _failed(node_id, exc) from None
    return out
