"""Saving a workflow, one step after another: what a create, an update, a delete, a restore or an instantiation does.

Every save here is the same sequence, and it is all in this module:

1. validate and store an immutable version (:mod:`include.workflows.store`,
   which raises before anything is written when the spec is invalid or the
   revision stale);
2. commit the caller's session — from here on the version is stored whatever
   happens next;
3. compile the workflow's files from what the database now holds and publish
   them (:func:`include.workflows.bundle.publish_saved`: one commit of the
   workflow bundle, or the files in ``workflows_dir`` without one);
4. ask Airflow to parse the new file now rather than at its next scan
   (``request_parse``, supplied by the caller: it needs the caller's
   credentials and usually runs after the response is sent).

A save of the spec the current version already holds stores nothing (the
store hands the record back with its revision unchanged), so steps 2-4 are
skipped: there is nothing new to compile or parse.

Compiling only after the commit is what keeps Airflow behind the database,
never ahead of it: a save that fails or rolls back never reaches Airflow, and a
failure to compile or publish never loses the stored version (the next save, or
``python -m include.workflows.bundle rebuild``, writes it).  Reading functions
and template-library edits, which compile nothing, are called on the stores
directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from include.workflows import bundle, store, templates_store
from include.workflows.model import Workflow
from include.workflows.records import WorkflowRecord

RequestParse = Callable[[str, str], None]
"""``request_parse(project, workflow_id)``: ask Airflow to parse that workflow's DAG file soon."""


def create_workflow(session: Session, spec: Workflow | dict[str, Any], user: str, *, comment: str = "created",
                    request_parse: RequestParse | None = None) -> WorkflowRecord:
    """A new workflow, stored as version 1 and compiled."""
    record = store.create_workflow(session, spec, user, comment=comment)
    return _commit_and_publish(session, record, request_parse)


def update_workflow(session: Session, project: str, workflow_id: str, spec: Workflow | dict[str, Any], user: str, *,
                    expected_revision: int | None = None, comment: str = "",
                    request_parse: RequestParse | None = None) -> WorkflowRecord:
    """The next version of a workflow (StaleRevision when ``expected_revision`` is not the current one)."""
    before = store.get_workflow(session, project, workflow_id).revision
    record = store.save_new_version(session, project, workflow_id, spec, user,
                                    expected_revision=expected_revision, comment=comment)
    return _publish_if_saved(session, record, before, request_parse)


def restore_version(session: Session, project: str, workflow_id: str, version: int, user: str, *,
                    expected_revision: int | None = None, request_parse: RequestParse | None = None) -> WorkflowRecord:
    """An old version made current again, as a new version (nothing, when it is the current spec already)."""
    before = store.get_workflow(session, project, workflow_id).revision
    record = store.restore_version(session, project, workflow_id, version, user, expected_revision=expected_revision)
    return _publish_if_saved(session, record, before, request_parse)


def delete_workflow(session: Session, project: str, workflow_id: str, user: str, *,
                    expected_revision: int | None = None, request_parse: RequestParse | None = None) -> WorkflowRecord:
    """Soft-delete a workflow; its compiled files are removed."""
    record = store.soft_delete(session, project, workflow_id, user, expected_revision=expected_revision)
    return _commit_and_publish(session, record, request_parse)


def undelete_workflow(session: Session, project: str, workflow_id: str, user: str, *,
                      request_parse: RequestParse | None = None) -> WorkflowRecord:
    """Bring a soft-deleted workflow back; it is compiled again."""
    record = store.undelete(session, project, workflow_id, user)
    return _commit_and_publish(session, record, request_parse)


def instantiate_template(session: Session, template: templates_store.TemplateRef, project: str, new_id: str, user: str, *,
                         name: str | None = None, request_parse: RequestParse | None = None) -> WorkflowRecord:
    """A new workflow in ``project`` from a template the user can see (by id or slug)."""
    spec, comment = templates_store.spec_for_new_workflow(session, template, project, new_id, user, name=name)
    return create_workflow(session, spec, user, comment=comment, request_parse=request_parse)


def _publish_if_saved(session: Session, record: WorkflowRecord, revision_before: int,
                      request_parse: RequestParse | None) -> WorkflowRecord:
    """Commit and publish a save that stored a version; a no-op save (same revision) has nothing to publish."""
    if record.revision == revision_before:
        return record
    return _commit_and_publish(session, record, request_parse)


def _commit_and_publish(session: Session, record: WorkflowRecord,
                        request_parse: RequestParse | None) -> WorkflowRecord:
    session.commit()
    bundle.publish_saved([(record.project, record.id)], session.get_bind())
    if request_parse is not None:
        request_parse(record.project, record.id)
    return record
