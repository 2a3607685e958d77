"""The one shape of a state event, from the Airflow listener to the browser.

A :class:`StateEvent` is built in the task process (or scheduler, or the
reconciler), serialised into the outbox, persisted by the relay and finally
sent to dashboard clients as :func:`include.events.store.event_to_wire`.
Keeping it one pydantic model with ``extra="forbid"`` means a field added on
one side and forgotten on the other fails loudly instead of vanishing.

``try_number``, ``state`` and ``occurred_at`` (Airflow's own time of the state
where it records one) are what :mod:`include.events.ordering` decides a task's
current state from; the id only says when the relay persisted the event.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

EventType = Literal["task_instance", "dag_run", "notification"]

DEFAULT_PROJECT = "platform"
PROJECT_TAG_PREFIX = "project:"
KEY_MAX_LEN = 512  # execution_events.event_key is VARCHAR(512)


class StateEvent(BaseModel, extra="forbid"):
    """One task-instance or DAG-run state change (or a notification derived from one)."""

    event_type: EventType
    project: str = Field(min_length=1, max_length=100)
    dag_id: str = Field(min_length=1, max_length=250)
    run_id: str = Field(min_length=1, max_length=250)
    task_id: str | None = Field(default=None, max_length=250)
    map_index: int = -1
    try_number: int = Field(default=0, ge=0)
    state: str = Field(min_length=1, max_length=32)
    occurred_at: AwareDatetime
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _task_fields(self) -> StateEvent:
        if self.event_type == "task_instance" and not self.task_id:
            raise ValueError("task_id: required for event_type 'task_instance'")
        if self.event_type == "dag_run" and self.task_id is not None:
            raise ValueError("task_id: must be empty for event_type 'dag_run'")
        return self

    def key(self) -> str:
        """Idempotency key: the same state change always maps to the same key.

        Task instances are identified the way Airflow does (dag, run, task,
        map index) plus the try and the state, so a retry's ``running`` is a new
        event while the same ``running`` reported twice (listener and
        reconciler, or a re-sent buffer) is one.  Over-long keys are hashed so
        they always fit the column.
        """
        if self.event_type == "dag_run":
            parts = ["dag_run", self.dag_id, self.run_id, self.state]
        else:
            parts = [
                self.event_type,
                self.dag_id,
                self.run_id,
                self.task_id or "",
                str(self.map_index),
                str(self.try_number),
                self.state,
            ]
        key = "|".join(parts)
        if len(key) > KEY_MAX_LEN:
            key = f"{self.event_type}|sha256:{hashlib.sha256(key.encode()).hexdigest()}"
        return key

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes) -> StateEvent:
        return cls.model_validate_json(data)


def project_from_tags(tags: object) -> str:
    """The project a DAG belongs to: its ``project:<slug>`` tag, else ``platform``.

    Accepts whatever Airflow hands over: a set/list of strings, or tag objects
    with a ``name`` attribute (DagTag rows), or dicts with ``name`` (REST API).
    """
    if not tags:
        return DEFAULT_PROJECT
    names = []
    for tag in tags:  # type: ignore[attr-defined]
        if isinstance(tag, str):
            names.append(tag)
        elif isinstance(tag, dict):
            names.append(str(tag.get("name", "")))
        else:
            names.append(str(getattr(tag, "name", "")))
    for name in sorted(names):
        if name.startswith(PROJECT_TAG_PREFIX):
            slug = name[len(PROJECT_TAG_PREFIX) :].strip()
            if slug:
                return slug[:100]
    return DEFAULT_PROJECT
