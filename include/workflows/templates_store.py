"""The template library in the app database: the shipped built-ins, public templates and each user's own.

Like :mod:`include.workflows.store`, every function takes a ``Session`` and
leaves committing to the caller.  A template's spec is a validated workflow
whose project is the placeholder :data:`TEMPLATE_PROJECT`; instantiating one
(:func:`include.workflows.service.instantiate_template`) validates it again
with the target project and id, and saves it like any new workflow — disabled.  Someone
else's private template is reported as missing, never as forbidden.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from include.db import models as m
from include.workflows.model import SLUG_PATTERN, Workflow
from include.workflows.records import AmbiguousTemplate, TemplateExists, TemplateNotFound, TemplateRecord
from include.workflows.serialization import load_yaml, to_dict
from include.workflows.store import validated
from include.workflows.validation import Problem, WorkflowInvalid, load_workflow

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SYSTEM_USER = "system"
TEMPLATE_PROJECT = "template"  # placeholder project of template specs; replaced on instantiation


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


_MAX_ID = 2**31  # ids are 32-bit integers: a larger number names no template (and is no query to send)
TemplateRef = int | str
"""A template's numeric id, or its slug (``basic-quality-check``); a string of digits is an id."""


def get_template(session: Session, template: TemplateRef, user: str) -> TemplateRecord:
    """A template the user may see, by id or slug (someone else's private template is reported as missing).

    Slugs are unique per owner, so one slug can name several templates; the
    caller's own comes first, then the built-in one, then a single public one
    of someone else.  Two public templates of other people are ambiguous: the
    caller has to pick one by id.
    """
    if isinstance(template, int) or (template.isascii() and template.isdigit()):
        row = session.get(m.WorkflowTemplate, int(template)) if int(template) < _MAX_ID else None
        if row is None or not (row.is_public or row.created_by == user):
            raise TemplateNotFound(f"template {template} does not exist")
        return _template_record(row)
    rows = session.scalars(
        select(m.WorkflowTemplate).where(
            m.WorkflowTemplate.slug == template,
            (m.WorkflowTemplate.is_public.is_(True)) | (m.WorkflowTemplate.created_by == user),
        ).order_by(m.WorkflowTemplate.id)
    ).all()
    for owner in (user, SYSTEM_USER):
        for row in rows:
            if row.created_by == owner:
                return _template_record(row)
    if len(rows) > 1:
        ids = ", ".join(str(row.id) for row in rows)
        raise AmbiguousTemplate(f"template {template!r} names several public templates (ids {ids}); use the id")
    if not rows:
        raise TemplateNotFound(f"template {template!r} does not exist")
    return _template_record(rows[0])


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
    wf = validated(workflow, project=TEMPLATE_PROJECT, version=1)
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


def spec_for_new_workflow(
    session: Session, template: TemplateRef, project: str, new_id: str, user: str, name: str | None = None
) -> tuple[Workflow, str]:
    """(validated spec, version comment) of a new workflow in ``project`` from a template the user can see.

    The new workflow is always disabled, whatever the template says: a template is someone
    else's idea of a workflow, so nothing it does reaches a pull request (no DAG is compiled,
    no webhook starts it) until a person here has tried it (a dry run) and enabled it.
    """
    found = get_template(session, template, user)
    overrides: dict[str, Any] = {"project": project, "id": new_id, "version": 1, "enabled": False}
    if name:
        overrides["name"] = name
    return validated(found.spec, **overrides), f"from template {found.name!r}"


def builtin_templates() -> list[dict[str, Any]]:
    """The shipped templates: ``{"template": {slug, name, category, description}, "workflow": spec}``."""
    out = []
    for path in sorted(TEMPLATES_DIR.glob("*.yaml")):
        doc = load_yaml(path.read_text(encoding="utf-8"))
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
