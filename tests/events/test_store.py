"""Persisting events: idempotent on the event key, ids monotonic and committed in order, replay paging."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from include.events.schema import StateEvent
from include.events.store import event_to_wire, events_after, events_before, latest_event_id, persist


def ti_event(task_id: str, state: str, project: str = "alpha", try_number: int = 1, **extra) -> StateEvent:
    return StateEvent(
        event_type="task_instance",
        project=project,
        dag_id="dag_a",
        run_id="run_1",
        task_id=task_id,
        try_number=try_number,
        state=state,
        occurred_at=datetime.now(UTC),
        **extra,
    )


def test_persist_is_idempotent_and_ids_increase(db):
    with Session(db) as session, session.begin():
        first = persist(session, ti_event("t1", "running"))
        second = persist(session, ti_event("t1", "success"))
        again = persist(session, ti_event("t1", "running", payload={"source": "reconciler"}))
        retry = persist(session, ti_event("t1", "running", try_number=2))
    assert first[1] and second[1] and retry[1]
    assert again == (first[0], False)
    assert first[0] < second[0] < retry[0]
    with Session(db) as session, session.begin():  # a later transaction still finds it
        assert persist(session, ti_event("t1", "success")) == (second[0], False)
        assert latest_event_id(session) == retry[0]


def test_event_key_distinguishes_map_index_and_dag_runs():
    base = ti_event("t", "running")
    assert base.key() != ti_event("t", "running", map_index=3).key()
    run = StateEvent(
        event_type="dag_run", project="p", dag_id="d", run_id="r", state="running", occurred_at=datetime.now(UTC)
    )
    assert run.key() == "dag_run|d|r|running"
    huge = StateEvent(
        event_type="task_instance",
        project="p",
        dag_id="d" * 250,
        run_id="r" * 250,
        task_id="t" * 250,
        state="running",
        occurred_at=datetime.now(UTC),
    )
    assert len(huge.key()) <= 512


def test_schema_rejects_bad_events_naming_the_field():
    with pytest.raises(ValueError, match="task_id"):
        StateEvent(
            event_type="task_instance",
            project="p",
            dag_id="d",
            run_id="r",
            state="running",
            occurred_at=datetime.now(UTC),
        )
    with pytest.raises(ValueError, match="occurred_at"):
        StateEvent(
            event_type="dag_run", project="p", dag_id="d", run_id="r", state="running", occurred_at=datetime(2024, 1, 1)
        )  # naive: ambiguous
    with pytest.raises(ValueError, match="bogus"):
        StateEvent.model_validate(
            {
                "event_type": "dag_run",
                "project": "p",
                "dag_id": "d",
                "run_id": "r",
                "state": "x",
                "occurred_at": datetime.now(UTC),
                "bogus": 1,
            }
        )


def test_events_after_pages_by_project_in_id_order(db):
    with Session(db) as session, session.begin():
        for i in range(7):
            persist(session, ti_event(f"a{i}", "running", project="alpha"))
            persist(session, ti_event(f"b{i}", "running", project="beta"))
    with Session(db) as session:
        pages, after = [], 0
        while page := events_after(session, ["alpha"], after, limit=3):
            pages.append(page)
            after = page[-1]["id"]
        assert [len(p) for p in pages] == [3, 3, 1]
        flat = [w for p in pages for w in p]
        assert [w["task_id"] for w in flat] == [f"a{i}" for i in range(7)]
        assert [w["id"] for w in flat] == sorted(w["id"] for w in flat)
        both = events_after(session, ["alpha", "beta"], 0, limit=100)
        assert len(both) == 14
        assert events_after(session, [], 0, 10) == []
        newest = events_before(session, ["beta"], None, limit=2)
        assert [w["task_id"] for w in newest] == ["b6", "b5"]
        assert [w["task_id"] for w in events_before(session, ["beta"], newest[-1]["id"], limit=2)] == ["b4", "b3"]
    wire = flat[0]
    assert set(wire) == {
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
    }
    assert wire["occurred_at"].endswith("+00:00")


def test_ids_commit_in_allocation_order_under_concurrency(db):
    """A writer holding an id blocks the next writer until it commits: no id ever appears 'behind' a reader."""
    holder_has_id = threading.Event()
    results: dict[str, tuple[int, float]] = {}

    def slow_writer():
        with Session(db) as session, session.begin():
            event_id, _ = persist(session, ti_event("slow", "running"))
            holder_has_id.set()
            time.sleep(0.5)  # a long transaction: the id is allocated but not committed
        results["slow"] = (event_id, time.monotonic())

    def fast_writer():
        holder_has_id.wait(5)
        with Session(db) as session, session.begin():
            event_id, _ = persist(session, ti_event("fast", "running"))
        results["fast"] = (event_id, time.monotonic())

    threads = [threading.Thread(target=slow_writer), threading.Thread(target=fast_writer)]
    for t in threads:
        t.start()
    # While the slow transaction is open, a replaying reader must not see anything yet.
    holder_has_id.wait(5)
    time.sleep(0.2)
    with Session(db) as session:
        assert events_after(session, ["alpha"], 0, 10) == []
    for t in threads:
        t.join()
    slow_id, slow_done = results["slow"]
    fast_id, fast_done = results["fast"]
    assert slow_id < fast_id
    assert slow_done <= fast_done  # the higher id became visible only after the lower one


def test_event_to_wire_from_row_and_dict(db):
    with Session(db) as session, session.begin():
        event_id, _ = persist(session, ti_event("t", "failed", payload={"error": "boom"}))
    from include.db.models import ExecutionEvent

    with Session(db) as session:
        row = session.get(ExecutionEvent, event_id)
        wire = event_to_wire(row)
    assert wire["id"] == event_id and wire["payload"] == {"error": "boom"} and wire["state"] == "failed"
    assert event_to_wire(wire) == wire


def test_persist_many_matches_persist_and_keeps_batch_order(db):
    from include.events.store import persist_many

    with Session(db) as session, session.begin():
        existing_id, _ = persist(session, ti_event("t2", "running"))
    batch = [
        ti_event("t1", "running"),
        ti_event("t2", "running"),  # stored before
        ti_event("t1", "success"),
        ti_event("t1", "running"),  # repeated inside the batch
        ti_event("t3", "running"),
    ]
    with Session(db) as session, session.begin():
        results = persist_many(session, batch)
    assert [created for _id, created in results] == [True, False, True, False, True]
    assert results[1][0] == existing_id and results[3][0] == results[0][0]
    new_ids = [results[0][0], results[2][0], results[4][0]]
    assert new_ids == sorted(new_ids) and new_ids[0] > existing_id
    with Session(db) as session, session.begin():
        assert persist_many(session, batch[:1]) == [(results[0][0], False)]
        assert persist_many(session, []) == []
