"""What the workflow and template stores hand back: read models of stored rows, and the errors of a store call.

Read models are pydantic copies (``from_attributes``), so a caller keeps them
after its session closes and the API returns them as they are.  Every error
carries ``field`` when one input is at fault; the API maps each class onto
one problem+json status.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from include.workflows.model import Workflow

# --- errors ------------------------------------------------------------------------------------------


class StoreError(Exception):
    """Base of the stores' errors; ``field`` points at the offending input when there is one."""

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


class AmbiguousTemplate(StoreError):
    """A slug that names several templates the caller may see, none of them the caller's own or built in."""


class TemplateExists(StoreError):
    field = "name"


class StaleRevision(StoreError):
    """The workflow changed since the caller read it (revision ``current`` != ``expected``)."""

    def __init__(self, expected: int, current: int):
        super().__init__(f"workflow was modified: expected revision {expected}, current revision is {current}")
        self.expected, self.current = expected, current


# --- read models -------------------------------------------------------------------------------------


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
