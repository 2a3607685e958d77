"""Workflows, their immutable versions and the template library in the app database.

Every function takes a SQLAlchemy ``Session`` and leaves committing to the
caller (``include.db.session.session_scope``), so one API request is one
transaction.  Rules kept here, not in the API:

* every save validates first and writes a new, never-updated
  ``WorkflowVersion``; restoring copies an old spec into a *new* version;
* ``workflows.revision`` is the optimistic-concurrency counter (the API's
  ETag): a save with a stale ``expected_revision`` raises :class:`StaleRevision`
  and changes nothing; the bump is a conditional UPDATE, so two concurrent
  saves cannot both win, on SQLite or PostgreSQL;
* deletes are soft (``deleted_at``) and reversible;
* the compiled DAG files follow the database: they are (re)written or removed
  only after the transaction commits, so a rolled-back save never reaches
  Airflow.  Disabled and deleted workflows have no DAG.  With a workflow
  bundle configured (:mod:`include.workflows.bundle`) each commit becomes one
  git commit of the bundle, so runs stay pinned to the version they started on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from include.db import models as m
from include.db.models import utcnow
from include.workflows.model import SLUG_PATTERN, Workflow
from include.workflows.serialization import to_dict
from include.workflows.validation import Problem, WorkflowInvalid, load_workflow

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SYSTEM_USER = "system"
TEMPLATE_PROJECT = "template"  # placeholder project of template specs; replaced on instantiation


# --- errors (the API maps each to a problem+json status) -----------------------------------------


class StoreError(Exception):
    """Base of the store's errors; ``field`` points at the offending input when there is one."""

    field: str | None = None


class ProjectNotFound(StoreError):
    field = "project"


class WorkflowNotFound(StoreError):
    pass


class WorkflowExists(StoreError):
    field = "id"


class VersionNotFound(StoreError):
    field = "version"


class TemplateNotFound(StoreError):
    pass


class TemplateExists(StoreError):
    field = "name"


class StaleRevision(StoreError):
    """The workflow changed since the caller read it (revision ``current`` != ``expected``)."""

    def __init__(self, expected: int, current: int):
        super().__init__(f"workflow was modified: expected revision {expected}, current revision is {current}")
        self.expected, self.current = expected, current


# --- read models returned to callers ---------------------------------------------------------------


class _Read(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class WorkflowRecord(_Read):
    """A workflow with its current spec (what the API returns)."""

    project: str
    id: str
    name: str
    description: str
    enabled: bool
    current_version: int
    revision: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    spec: Workflow


class WorkflowList(_Read):
    items: list[WorkflowRecord]
    total: int
    offset: int
    limit: int


class VersionInfo(_Read):
    version: int
    comment: str
    created_by: str
    created_at: datetime


class VersionRecord(VersionInfo):
    spec: Workflow


class TemplateRecord(_Read):
    id: int
    slug: str
    name: str
    description: str
    category: str
    is_public: bool
    created_by: str
    created_at: datetime
    spec: Workflow


# --- compile after commit --------------------------------------------------------------------------

_PENDING = "autopr_workflow_compiles"


def _after_commit(session: Session, action: str, workflow: Workflow | tuple[str, str]) -> None:
    """Queue a compile/remove for when this session's transaction commits (dropped on rollback)."""
    pending: list = session.info.setdefault(_PENDING, [])
    pending.append((action, workflow))


@event.listens_for(Session, "after_commit")
def _run_pending_compiles(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    from include.workflows import bundle

    if bundle.configured_url() is not None:
        # The versioned bundle every host reads: one commit of what the database now holds for these workflows.
        keys = [(t.project, t.id) if isinstance(t, Workflow) else tuple(t) for _action, t in pending]
        bundle.publish_after_commit(keys, session.get_bind())
        return
    from include.workflows.compiler import compile_workflow, remove_compiled

    for action, target in pending:
        if action == "compile":
            compile_workflow(target)
        else:
            remove_compiled(*target)


@event.listens_for(Session, "after_rollback")
def _drop_pending_compiles(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _sync_compiled(session: Session, spec: Workflow, live: bool) -> None:
    if live and spec.enabled:
        _after_commit(session, "compile", spec)
    else:
        _after_commit(session, "remove", (spec.project, spec.id))


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


def _validated(spec: Workflow | dict[str, Any], **overrides: Any) -> Workflow:
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
    wf = _validated(spec, version=1)
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
    _sync_compiled(session, wf, live=True)
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
    """Validate ``spec`` and store it as the next version; StaleRevision if ``expected_revision`` is old."""
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
    wf = _validated(data, project=project, id=workflow_id, version=new_version)
    _bump(session, row, expected_revision, name=wf.name, description=wf.description, enabled=wf.enabled,
          current_version=new_version)
    session.add(
        m.WorkflowVersion(workflow_id=row.id, version=new_version, spec=to_dict(wf), comment=comment, created_by=user)
    )
    session.flush()
    _sync_compiled(session, wf, live=True)
    return _record(session, row, project)


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
    """Hide a workflow and remove its DAG; versions are kept and :func:`undelete` brings it back."""
    row = _row(session, project, workflow_id)
    _bump(session, row, expected_revision, deleted_at=utcnow())
    log.info("workflow %s/%s deleted by %s", project, workflow_id, user)
    _after_commit(session, "remove", (project, workflow_id))
    return _record(session, row, project)


def undelete(session: Session, project: str, workflow_id: str, user: str) -> WorkflowRecord:
    row = _row(session, project, workflow_id, include_deleted=True)
    if row.deleted_at is None:
        return _record(session, row, project)
    _bump(session, row, None, deleted_at=None)
    log.info("workflow %s/%s restored by %s", project, workflow_id, user)
    record = _record(session, row, project)
    _sync_compiled(session, record.spec, live=True)
    return record


# --- templates -----------------------------------------------------------------------------------


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63] or "template"
    return slug if re.match(SLUG_PATTERN, slug) else "template"


def _template_record(row: m.WorkflowTemplate) -> TemplateRecord:
    return TemplateRecord(
        id=row.id, slug=row.slug, name=row.name, description=row.description, category=row.category,
        is_public=row.is_public, created_by=row.created_by, created_at=row.created_at,
        spec=Workflow.model_validate(row.spec),
    )


def list_templates(session: Session, user: str) -> list[TemplateRecord]:
    """Public templates plus the user's own private ones (built-ins first, then by name)."""
    rows = session.scalars(
        select(m.WorkflowTemplate)
        .where((m.WorkflowTemplate.is_public.is_(True)) | (m.WorkflowTemplate.created_by == user))
        .order_by((m.WorkflowTemplate.created_by != SYSTEM_USER), m.WorkflowTemplate.name, m.WorkflowTemplate.id)
    )
    return [_template_record(r) for r in rows]


def get_template(session: Session, template_id: int, user: str) -> TemplateRecord:
    """A template the user may see (someone else's private template is reported as missing)."""
    row = session.get(m.WorkflowTemplate, template_id)
    if row is None or not (row.is_public or row.created_by == user):
        raise TemplateNotFound(f"template {template_id} does not exist")
    return _template_record(row)


def save_as_template(
    session: Session,
    workflow: Workflow | dict[str, Any],
    name: str,
    is_public: bool,
    user: str,
    description: str | None = None,
    category: str = "custom",
) -> TemplateRecord:
    """Save a workflow spec to the template library, owned by ``user``."""
    if not name or not name.strip() or len(name) > 200:
        raise WorkflowInvalid([Problem(field="name", message="template name must be 1-200 characters")])
    wf = _validated(workflow, project=TEMPLATE_PROJECT, version=1)
    slug = slugify(name)
    if session.scalar(
        select(m.WorkflowTemplate.id).where(m.WorkflowTemplate.slug == slug, m.WorkflowTemplate.created_by == user)
    ):
        raise TemplateExists(f"you already have a template named {name!r}")
    row = m.WorkflowTemplate(
        slug=slug, name=name.strip(), description=wf.description if description is None else description,
        category=category, spec=to_dict(wf), is_public=is_public, created_by=user,
    )
    session.add(row)
    session.flush()
    return _template_record(row)


def instantiate_template(
    session: Session, template_id: int, project: str, new_id: str, user: str, name: str | None = None
) -> WorkflowRecord:
    """Create a workflow in ``project`` from a template the user can see."""
    template = get_template(session, template_id, user)
    overrides: dict[str, Any] = {"project": project, "id": new_id, "version": 1}
    if name:
        overrides["name"] = name
    spec = _validated(template.spec, **overrides)
    return create_workflow(session, spec, user, comment=f"from template {template.name!r}")


def builtin_templates() -> list[dict[str, Any]]:
    """The shipped templates: ``{"template": {slug, name, category, description}, "workflow": spec}``."""
    out = []
    for path in sorted(TEMPLATES_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            wf = load_workflow(doc["workflow"])
        except WorkflowInvalid as exc:
            raise WorkflowInvalid(exc.problems, what=f"built-in template {path.name}") from None
        out.append({"template": doc["template"], "workflow": wf})
    return out


def seed_builtin_templates(session: Session) -> list[TemplateRecord]:
    """Insert or refresh the built-in public templates (owner ``system``); safe to run any number of times."""
    records = []
    for item in builtin_templates():
        meta, wf = item["template"], item["workflow"]
        row = session.scalar(
            select(m.WorkflowTemplate).where(
                m.WorkflowTemplate.slug == meta["slug"], m.WorkflowTemplate.created_by == SYSTEM_USER
            )
        )
        values = {
            "name": meta["name"], "description": meta.get("description", wf.description),
            "category": meta.get("category", "general"), "spec": to_dict(wf), "is_public": True,
        }
        if row is None:
            row = m.WorkflowTemplate(slug=meta["slug"], created_by=SYSTEM_USER, **values)
            session.add(row)
        else:
            for key, value in values.items():
                if getattr(row, key) != value:
                    setattr(row, key, value)
        session.flush()
        records.append(_template_record(row))
    return records
