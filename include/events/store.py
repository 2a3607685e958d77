"""Persist state events with a monotonic id, and read them back for replay.

Why ids are safe to replay from
-------------------------------
A client that reconnects says "give me everything after id N".  That only
works if no event with an id <= N can become visible *after* the client saw
N.  On PostgreSQL a sequence hands out ids at INSERT time, but transactions
commit in any order: relay A takes id 10, relay B takes id 11 and commits
first, a client replays "after 11" — and id 10, committed a moment later, is
never delivered.

:func:`persist` therefore takes a transaction-scoped PostgreSQL advisory lock
(``pg_advisory_xact_lock``) before it allocates an id.  The lock is held until
the caller's transaction commits or rolls back, so ids are allocated *and
committed* in one global order: whoever holds a higher id committed after
every lower one.  On SQLite the database's single-writer lock gives the same
guarantee.  The lock costs one round trip per transaction; the relay persists
a whole batch per transaction, so it is paid once per batch.

Ids are monotonic, not dense: a rolled-back insert leaves a gap, which
replay handles naturally (``id > N``).

Idempotency: ``event_key`` (see :meth:`StateEvent.key`) is unique.  Persisting
an event whose key exists returns the existing id with ``created=False`` and
changes nothing, so the listener, a re-sent buffer and the reconciler can all
report the same state change safely.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert as sqlalchemy_insert
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from include.db.models import ExecutionEvent
from include.events.schema import StateEvent

# Arbitrary but fixed: the advisory-lock key that serialises event-id allocation.
EVENT_ID_LOCK_KEY = 0x4155_5450_5245_5631 & 0x7FFF_FFFF_FFFF_FFFF  # "AUTPREV1"

WIRE_FIELDS = (
    "id",
    "event_type",
    "project",
    "dag_id",
    "run_id",
    "task_id",
    "map_index",
    "try_number",
    "state",
    "occurred_at",
    "payload",
)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def lock_event_ids(session: Session) -> None:
    """Serialise id allocation until this transaction ends (no-op on SQLite, which has one writer).

    Taken once per transaction: the session remembers the transaction that holds it.
    """
    if _dialect(session) != "postgresql":
        return
    transaction = session.get_transaction()
    if transaction is not None and session.info.get("_autopr_event_lock") is transaction:
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_ID_LOCK_KEY})
    session.info["_autopr_event_lock"] = session.get_transaction()


def _row_values(event: StateEvent) -> dict[str, Any]:
    return {
        "event_key": event.key(),
        "event_type": event.event_type,
        "project": event.project,
        "dag_id": event.dag_id,
        "run_id": event.run_id,
        "task_id": event.task_id,
        "map_index": event.map_index,
        "try_number": event.try_number,
        "state": event.state,
        "payload": event.payload,
        "occurred_at": event.occurred_at,
        "created_at": datetime.now(UTC),
    }


def persist(session: Session, event: StateEvent) -> tuple[int, bool]:
    """Store ``event`` (or find it) and return ``(id, created)``.

    The caller owns the transaction and must commit before anyone is told
    about the id (persist, then publish).  Safe to call repeatedly inside one
    transaction; the id lock is taken once per transaction and is re-entrant.
    """
    lock_event_ids(session)
    key = event.key()
    existing = session.execute(select(ExecutionEvent.id).where(ExecutionEvent.event_key == key)).scalar()
    if existing is not None:
        return int(existing), False
    dialect = _dialect(session)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(ExecutionEvent)
        .values(**_row_values(event))
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(ExecutionEvent.id)
    )
    new_id = session.execute(stmt).scalar()
    if new_id is not None:
        return int(new_id), True
    # Lost a race with a writer that does not use persist(); the row exists now.
    existing = session.execute(select(ExecutionEvent.id).where(ExecutionEvent.event_key == key)).scalar_one()
    return int(existing), False


def persist_many(session: Session, events: Iterable[StateEvent]) -> list[tuple[int, bool]]:
    """:func:`persist` for a batch, in order, in the caller's transaction — three statements, not 3 per event.

    Under the id lock: one SELECT finds keys already stored, one multi-row
    INSERT stores the rest.  ``sort_by_parameter_order`` makes SQLAlchemy
    generate the ids in batch order, so a task's ``running`` keeps a lower id
    than its ``success`` within one batch too.  A key repeated inside the
    batch is stored once; later copies report ``created=False``.
    """
    events = list(events)
    if not events:
        return []
    lock_event_ids(session)
    keys = [event.key() for event in events]
    known: dict[str, int] = {}
    unique_keys = list(dict.fromkeys(keys))
    for start in range(0, len(unique_keys), 500):
        chunk = unique_keys[start : start + 500]
        rows = session.execute(
            select(ExecutionEvent.event_key, ExecutionEvent.id).where(ExecutionEvent.event_key.in_(chunk))
        )
        known.update({key: int(event_id) for key, event_id in rows})
    new_rows, seen = [], set()
    for event, key in zip(events, keys, strict=True):
        if key not in known and key not in seen:
            seen.add(key)
            new_rows.append(_row_values(event))
    created: dict[str, int] = {}
    if new_rows:
        stmt = sqlalchemy_insert(ExecutionEvent).returning(
            ExecutionEvent.event_key, ExecutionEvent.id, sort_by_parameter_order=True
        )
        created = {key: int(event_id) for key, event_id in session.execute(stmt, new_rows)}
    results, reported = [], set()
    for key in keys:
        if key in created and key not in reported:
            reported.add(key)
            results.append((created[key], True))
        else:
            results.append((known.get(key, created.get(key)), False))
    return results


def _aware(value: datetime | None) -> datetime | None:
    if isinstance(value, datetime) and value.tzinfo is None:  # SQLite drops the offset; we store UTC
        return value.replace(tzinfo=UTC)
    return value


def event_to_wire(row: Any) -> dict[str, Any]:
    """The JSON object a dashboard client receives for one persisted event.

    ``row`` is an :class:`ExecutionEvent` or any object/mapping with its
    columns.  ``occurred_at`` is ISO-8601 UTC.
    """
    get = row.get if isinstance(row, dict) else (lambda name: getattr(row, name))
    occurred = _aware(get("occurred_at"))
    return {
        "id": int(get("id")),
        "event_type": get("event_type"),
        "project": get("project"),
        "dag_id": get("dag_id"),
        "run_id": get("run_id"),
        "task_id": get("task_id"),
        "map_index": int(get("map_index")),
        "try_number": int(get("try_number")),
        "state": get("state"),
        "occurred_at": occurred.isoformat() if isinstance(occurred, datetime) else occurred,
        "payload": dict(get("payload") or {}),
    }


def events_after(session: Session, projects: list[str], after_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """Events of ``projects`` with ``id > after_id``, oldest first, at most ``limit`` (replay / paging).

    Page by passing the last returned id as the next ``after_id``.
    """
    if not projects or limit <= 0:
        return []
    rows = session.execute(
        select(ExecutionEvent)
        .where(ExecutionEvent.project.in_(list(projects)), ExecutionEvent.id > int(after_id))
        .order_by(ExecutionEvent.id)
        .limit(int(limit))
    ).scalars()
    return [event_to_wire(row) for row in rows]


def events_before(
    session: Session, projects: list[str], before_id: int | None, limit: int = 50
) -> list[dict[str, Any]]:
    """Events of ``projects`` with ``id < before_id`` (or the newest), newest first: the activity feed's pages."""
    if not projects or limit <= 0:
        return []
    query = select(ExecutionEvent).where(ExecutionEvent.project.in_(list(projects)))
    if before_id is not None:
        query = query.where(ExecutionEvent.id < int(before_id))
    rows = session.execute(query.order_by(ExecutionEvent.id.desc()).limit(int(limit))).scalars()
    return [event_to_wire(row) for row in rows]


def run_events(session: Session, project: str, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """Every event of one DAG run, oldest first: what its current states are decided from."""
    rows = session.execute(
        select(ExecutionEvent)
        .where(ExecutionEvent.project == project, ExecutionEvent.dag_id == dag_id, ExecutionEvent.run_id == run_id)
        .order_by(ExecutionEvent.id)
    ).scalars()
    return [event_to_wire(row) for row in rows]


def latest_event_id(session: Session) -> int:
    """The highest persisted id (0 when empty): where a brand-new client starts."""
    value = session.execute(select(ExecutionEvent.id).order_by(ExecutionEvent.id.desc()).limit(1)).scalar()
    return int(value or 0)
