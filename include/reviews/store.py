"""Store review sessions and their issues in the app database.

One function, :func:`record_review`, is the only way a review lands in the
database — for workflow runs (``source="workflow"``) and for sessions posted by
external tools through the API alike — so the learning system reads one shape
whatever produced it.  Issues are validated before anything is written: bad
input raises :class:`ReviewInputError` naming the issue index and field, and
nothing is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from include.db.models import Project, ReviewIssue, ReviewSession, Workflow
from include.enums import Severity


class ReviewInputError(ValueError):
    """A review or one of its issues is malformed, or its project does not exist."""


class IssueIn(BaseModel):
    """One issue as callers hand it in (analyser findings, API payloads)."""

    model_config = ConfigDict(extra="forbid")

    file_path: str = Field(min_length=1, max_length=1000)
    line: int | None = Field(default=None, ge=0)
    rule: str = Field(min_length=1, max_length=200)
    analyzer: str = Field(min_length=1, max_length=64)
    severity: Severity
    message: str
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    predicted_severity: Severity | None = None
    model_version: str | None = Field(default=None, max_length=100)
    context: dict[str, Any] = Field(default_factory=dict)


def _issue_in(index: int, raw: object) -> IssueIn:
    if isinstance(raw, IssueIn):
        return raw
    if hasattr(raw, "model_dump"):
        raw = raw.model_dump(mode="json")  # e.g. include.analysis.Finding
    if not isinstance(raw, Mapping):
        raise ReviewInputError(f"issues[{index}]: expected an object, got {type(raw).__name__}")
    try:
        return IssueIn.model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"issues[{index}].{'.'.join(str(p) for p in err['loc']) or '?'}: {err['msg']}" for err in exc.errors()
        )
        raise ReviewInputError(problems) from None


def _workflow_pk(session: Session, project_id: int, workflow_id: int | str | None) -> int | None:
    """The ``workflows.id`` a run belongs to, or None when it is not (or no longer) in the database.

    Workflow runs know their workflow by the id used in the spec (a slug, or the
    numeric primary key); either resolves here.  An unknown workflow is not an
    error — the session is still stored, keeping the reference in ``stats``.
    """
    if workflow_id in (None, ""):
        return None
    if isinstance(workflow_id, int) or str(workflow_id).isdigit():
        row = session.get(Workflow, int(workflow_id))
        return row.id if row is not None and row.project_id == project_id else None
    return session.scalar(select(Workflow.id).where(Workflow.project_id == project_id, Workflow.slug == workflow_id))


def record_review(
    session: Session,
    project_slug: str,
    repository: str,
    issues: Iterable[Mapping[str, Any] | Any],
    *,
    workflow_id: int | str | None = None,
    workflow_version: int | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
    ref: str | None = None,
    commit_sha: str | None = None,
    pr_number: int | None = None,
    source: str = "workflow",
    status: str = "completed",
    stats: Mapping[str, Any] | None = None,
) -> ReviewSession:
    """Store one review session with its issues; returns the (flushed) session row.

    The caller owns the transaction (``include.db.session.session_scope``).
    The project must already exist: a review for an unknown project is a
    configuration mistake, not something to paper over by creating one.
    """
    if not repository:
        raise ReviewInputError("repository: must not be empty")
    validated = [_issue_in(i, raw) for i, raw in enumerate(issues)]
    project_id = session.scalar(select(Project.id).where(Project.slug == project_slug))
    if project_id is None:
        raise ReviewInputError(f"project {project_slug!r} does not exist; create it before recording reviews")

    by_severity = {s.value: 0 for s in Severity}
    for issue in validated:
        by_severity[issue.severity.value] += 1
    all_stats: dict[str, Any] = {"issues_count": len(validated), "by_severity": by_severity}
    all_stats.update(stats or {})
    wf_pk = _workflow_pk(session, project_id, workflow_id)
    if workflow_id not in (None, "") and wf_pk is None:
        all_stats.setdefault("workflow_ref", str(workflow_id))

    row = ReviewSession(
        project_id=project_id,
        workflow_id=wf_pk,
        workflow_version=workflow_version,
        source=source,
        repository=repository,
        ref=ref,
        commit_sha=commit_sha,
        pr_number=pr_number,
        dag_id=dag_id,
        run_id=run_id,
        status=status,
        stats=all_stats,
    )
    row.issues = [ReviewIssue(**issue.model_dump()) for issue in validated]
    session.add(row)
    session.flush()
    return row
