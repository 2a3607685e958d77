"""Workflows and their immutable versions in the app database.

Every function takes a SQLAlchemy ``Session`` and leaves committing to the
caller, so one call is part of the caller's transaction.  Nothing here writes
files or talks to Airflow: saving a workflow — store, commit, compile, publish,
ask Airflow to parse — is the sequence :mod:`include.workflows.service` spells
out.  Rules kept here, not in the API:

* every save validates first and writes a new, never-updated
  ``WorkflowVersion``; restoring copies an old spec into a *new* version;
* a save of the spec the current version already holds (compared in the
  complete form, defaults filled in, so a minimal export saved back counts as
  the same) writes nothing: no version, no revision bump, the record as it is;
* ``workflows.revision`` is the optimistic-concurrency counter (the API's
  ETag): a save with a stale ``expected_revision`` raises :class:`StaleRevision`
  and changes nothing; the bump is a conditional UPDATE, so two concurrent
  saves cannot both win, on SQLite or PostgreSQL;
* deletes are soft (``deleted_at``) and reversible.

Templates live in :mod:`include.workflows.templates_store`; the records and
errors returned here in :mod:`include.workflows.records`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from include.db import models as m
from include.db.models import utcnow
from include.workflows.model import Workflow
from include.workflows.records import (
    ProjectNotFound,
    StaleRevision,
    StoreError,
    VersionInfo,
    VersionNotFound,
    VersionRecord,
    WorkflowExists,
    WorkflowList,
    WorkflowNotFound,
    WorkflowRecord,
)
from include.workflows.serialization import to_dict
from include.workflows.validation import Problem, WorkflowInvalid, load_workflow

__all__ = [
    "ProjectNotFound", "StaleRevision", "StoreError", "VersionNotFound", "WorkflowExists", "WorkflowNotFound",
    "create_workflow", "get_version", "get_workflow", "list_versions", "list_workflows", "restore_version",
    "save_new_version", "soft_delete", "undelete", "validated",
]

log = logging.getLogger(__name__)


# --- helpers -----------------------------------------------------------------------------------------


def _project(session: Session, slug: str) -> m.Project:
    project = session.scalar(select(m.Project).where(m.Project.slug == slug))
    if project is None:
        raise ProjectNotFound(f"project {slug!r} does not exist")
    return project


def _row(session: Session, project: str, workflow_id: str, *, include_deleted: bool = False) -> m.Workflow:
    stmt = (
        select(m.Workflow)
        .join(m.Project, m.Project.id == m.Workflow.project_id)
        .where(m.Project.slug == project, m.Workflow.slug == workflow_id)
    )
    row = session.scalar(stmt)
    if row is None or (row.deleted_at is not None and not include_deleted):
        raise WorkflowNotFound(f"workflow {project}/{workflow_id} does not exist")
    return row


def _version_row(session: Session, row: m.Workflow, version: int) -> m.WorkflowVersion:
    ver = session.scalar(
        select(m.WorkflowVersion).where(m.WorkflowVersion.workflow_id == row.id, m.WorkflowVersion.version == version)
    )
    if ver is None:
        raise VersionNotFound(f"workflow has no version {version}")
    return ver


def _record(session: Session, row: m.Workflow, project: str) -> WorkflowRecord:
    ver = _version_row(session, row, row.current_version)
    return WorkflowRecord(
        project=project,
        id=row.slug,
        name=row.name,
        description=row.description,
        enabled=row.enabled,
        current_version=row.current_version,
        revision=row.revision,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        spec=Workflow.model_validate(ver.spec),
    )


def validated(spec: Workflow | dict[str, Any], **overrides: Any) -> Workflow:
    data = to_dict(spec) if isinstance(spec, Workflow) else dict(spec)
    data.update(overrides)
    return load_workflow(data)


def _bump(session: Session, row: m.Workflow, expected_revision: int | None, **values: Any) -> None:
    """Advance the revision with a conditional UPDATE (the optimistic-concurrency check)."""
    if expected_revision is not None and expected_revision != row.revision:
        raise StaleRevision(expected_revision, row.revision)
    result = session.execute(
        update(m.Workflow)
        .where(m.Workflow.id == row.id, m.Workflow.revision == row.revision)
        .values(revision=row.revision + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # someone else saved between our read and our write
        current = session.scalar(select(m.Workflow.revision).where(m.Workflow.id == row.id))
        raise StaleRevision(expected_revision if expected_revision is not None else row.revision, current or -1)
    session.refresh(row)


# --- workflows -----------------------------------------------------------------------------------


def create_workflow(session: Session, spec: Workflow | dict[str, Any], user: str, comment: str = "created") -> WorkflowRecord:
    """Store a new workflow as version 1 (the spec's project must exist; its id must be free)."""
    wf = validated(spec, version=1)
    project = _project(session, wf.project)
    existing = session.scalar(
        select(m.Workflow).where(m.Workflow.project_id == project.id, m.Workflow.slug == wf.id)
    )
    if existing is not None:
        hint = " (it is deleted; undelete it or choose another id)" if existing.deleted_at else ""
        raise WorkflowExists(f"workflow {wf.project}/{wf.id} already exists{hint}")
    row = m.Workflow(
        project_id=project.id,
        slug=wf.id,
        name=wf.name,
        description=wf.description,
        enabled=wf.enabled,
        current_version=1,
        revision=1,
        created_by=user,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise WorkflowExists(f"workflow {wf.project}/{wf.id} already exists") from None
    session.add(m.WorkflowVersion(workflow_id=row.id, version=1, spec=to_dict(wf), comment=comment, created_by=user))
    session.flush()
    return _record(session, row, wf.project)


def save_new_version(
    session: Session,
    project: str,
    workflow_id: str,
    spec: Workflow | dict[str, Any],
    user: str,
    expected_revision: int | None = None,
    comment: str = "",
) -> WorkflowRecord:
    """Validate ``spec`` and store it as the next version; StaleRevision if ``expected_revision`` is old.

    When ``spec`` is the current version's spec again, nothing is written and the
    current record comes back with its revision unchanged (a no-op save).
    """
    row = _row(session, project, workflow_id)
    if expected_revision is not None and expected_revision != row.revision:
        raise StaleRevision(expected_revision, row.revision)
    data = to_dict(spec) if isinstance(spec, Workflow) else dict(spec)
    for key, value in (("project", project), ("id", workflow_id)):
        if data.get(key, value) != value:
            raise WorkflowInvalid(
                [Problem(field=key, message=f"cannot change {key} from {value!r} to {data[key]!r}; create a new workflow")]
            )
    new_version = _next_version(session, row)
    wf = validated(data, project=project, id=workflow_id, version=new_version)
    if _same_spec(wf, Workflow.model_validate(_version_row(session, row, row.current_version).spec)):
        return _record(session, row, project)
    _bump(session, row, expected_revision, name=wf.name, description=wf.description, enabled=wf.enabled,
          current_version=new_version)
    session.add(
        m.WorkflowVersion(workflow_id=row.id, version=new_version, spec=to_dict(wf), comment=comment, created_by=user)
    )
    session.flush()
    return _record(session, row, project)


def _same_spec(a: Workflow, b: Workflow) -> bool:
    """Whether two specs are the same workflow, whatever version number each carries."""
    return to_dict(a) | {"version": 0} == to_dict(b) | {"version": 0}


def _next_version(session: Session, row: m.Workflow) -> int:
    top = session.scalar(select(func.max(m.WorkflowVersion.version)).where(m.WorkflowVersion.workflow_id == row.id))
    return (top or 0) + 1


def get_workflow(session: Session, project: str, workflow_id: str, include_deleted: bool = False) -> WorkflowRecord:
    return _record(session, _row(session, project, workflow_id, include_deleted=include_deleted), project)


def list_workflows(
    session: Session,
    project: str | Iterable[str] | None = None,
    offset: int = 0,
    limit: int = 50,
    include_deleted: bool = False,
) -> WorkflowList:
    """A page of workflows (newest first), for one project, several, or all (``None``)."""
    if offset < 0 or not 1 <= limit <= 500:
        raise ValueError("offset must be >= 0 and limit between 1 and 500")
    stmt = select(m.Workflow, m.Project.slug).join(m.Project, m.Project.id == m.Workflow.project_id)
    if isinstance(project, str):
        stmt = stmt.where(m.Project.slug == project)
    elif project is not None:
        stmt = stmt.where(m.Project.slug.in_(list(project)))
    if not include_deleted:
        stmt = stmt.where(m.Workflow.deleted_at.is_(None))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(m.Workflow.updated_at.desc(), m.Workflow.id.desc()).offset(offset).limit(limit)
    ).all()
    return WorkflowList(items=[_record(session, row, slug) for row, slug in rows], total=total, offset=offset, limit=limit)


def list_versions(session: Session, project: str, workflow_id: str) -> list[VersionInfo]:
    row = _row(session, project, workflow_id)
    versions = session.scalars(
        select(m.WorkflowVersion).where(m.WorkflowVersion.workflow_id == row.id).order_by(m.WorkflowVersion.version.desc())
    )
    return [VersionInfo.model_validate(v) for v in versions]


def get_version(session: Session, project: str, workflow_id: str, version: int) -> VersionRecord:
    ver = _version_row(session, _row(session, project, workflow_id), version)
    return VersionRecord(
        version=ver.version, comment=ver.comment, created_by=ver.created_by, created_at=ver.created_at,
        spec=Workflow.model_validate(ver.spec),
    )


def restore_version(
    session: Session, project: str, workflow_id: str, version: int, user: str, expected_revision: int | None = None
) -> WorkflowRecord:
    """Make an old version current again by saving a copy of it as a new version."""
    row = _row(session, project, workflow_id)
    old = _version_row(session, row, version)
    return save_new_version(
        session, project, workflow_id, old.spec, user, expected_revision=expected_revision,
        comment=f"restored from version {version}",
    )


def soft_delete(session: Session, project: str, workflow_id: str, user: str, expected_revision: int | None = None) -> WorkflowRecord:
    """Hide a workflow (its DAG goes with it); versions are kept and :func:`undelete` brings it back."""
    row = _row(session, project, workflow_id)
    _bump(session, row, expected_revision, deleted_at=utcnow())
    log.info("workflow %s/%s deleted by %s", project, workflow_id, user)
    return _record(session, row, project)


def undelete(session: Session, project: str, workflow_id: str, user: str) -> WorkflowRecord:
    row = _row(session, project, workflow_id, include_deleted=True)
    if row.deleted_at is None:
        return _record(session, row, project)
    _bump(session, row, None, deleted_at=None)
    log.info("workflow %s/%s restored by %s", project, workflow_id, user)
    return _record(session, row, project)

