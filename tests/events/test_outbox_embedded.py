"""The embedded SQLite outbox across processes: task processes write, the relay's process reads."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from include.events.outbox import SQLiteOutbox
from include.events.schema import StateEvent

pytestmark = pytest.mark.timeout(120)
PER_WRITER = 300


def _writer(path: str, writer: int, started) -> None:
    """Runs in a child process: what the listener does in a task process."""
    outbox = SQLiteOutbox(path)
    started.wait(10)
    for i in range(PER_WRITER):
        outbox.put(
            StateEvent(
                event_type="task_instance",
                project="alpha",
                dag_id=f"dag_{writer}",
                run_id="run",
                task_id=f"t{i:04d}",
                state="running",
                occurred_at=datetime.now(UTC),
            )
        )


def test_writers_in_other_processes_reader_here(tmp_path: Path):
    path = str(tmp_path / "outbox.db")
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    writers = [ctx.Process(target=_writer, args=(path, w, started)) for w in range(3)]
    for proc in writers:
        proc.start()
    reader = SQLiteOutbox(path)
    started.set()
    received = []
    deadline = time.monotonic() + 60
    while len(received) < 3 * PER_WRITER and time.monotonic() < deadline:
        batch = reader.read_batch("relay", count=100, block_ms=200)
        received.extend(batch)
        reader.ack(batch)  # concurrent deletes while writers append
    for proc in writers:
        proc.join(30)
        assert proc.exitcode == 0
    assert reader.read_batch("relay", block_ms=0) == []
    keys = [item.event.key() for item in received]
    assert len(keys) == 3 * PER_WRITER == len(set(keys))  # all, exactly once
    for w in range(3):  # each writer's events in the order it wrote them
        mine = [item.event.task_id for item in received if item.event.dag_id == f"dag_{w}"]
        assert mine == [f"t{i:04d}" for i in range(PER_WRITER)]
    assert reader.backlog() == 0


def test_unacked_rows_come_back_flagged_redelivered(tmp_path: Path):
    path = tmp_path / "outbox.db"
    writer = SQLiteOutbox(path)
    for i in range(3):
        writer.put(
            StateEvent(
                event_type="dag_run",
                project="p",
                dag_id="d",
                run_id=f"r{i}",
                state="running",
                occurred_at=datetime.now(UTC),
            )
        )
    first = SQLiteOutbox(path).read_batch("relay", block_ms=0)
    assert [it.redelivered for it in first] == [False] * 3
    # The relay died before acknowledging: a new relay sees them again, flagged.
    again = SQLiteOutbox(path).read_batch("relay", block_ms=0)
    assert [it.event.run_id for it in again] == ["r0", "r1", "r2"]
    assert all(it.redelivered for it in again)


def test_undecodable_rows_are_dead_lettered_not_blocking(tmp_path: Path):
    path = tmp_path / "outbox.db"
    outbox = SQLiteOutbox(path)
    outbox.put_raw('{"not": "an event"}')
    outbox.put(
        StateEvent(
            event_type="dag_run", project="p", dag_id="d", run_id="r", state="success", occurred_at=datetime.now(UTC)
        )
    )
    items = outbox.read_batch("relay", block_ms=0)
    assert [it.event.state for it in items] == ["success"]
    import sqlite3

    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 1


def _event(run_id: str) -> StateEvent:
    return StateEvent(event_type="dag_run", project="p", dag_id="d", run_id=run_id, state="running",
                      occurred_at=datetime.now(UTC))


def test_an_idle_relay_reads_no_table_and_still_sees_every_new_row(tmp_path: Path):
    """An empty outbox is looked at by a pragma, not a query; rows from anyone (itself included) still arrive."""
    path = tmp_path / "outbox.db"
    relay = SQLiteOutbox(path)
    assert relay.read_batch("relay", block_ms=0) == []
    statements: list[str] = []
    relay._connect().set_trace_callback(statements.append)
    assert relay.read_batch("relay", block_ms=50) == []  # about 25 looks at an empty, unchanged outbox
    assert statements and not [s for s in statements if "outbox" in s.lower()], statements[:5]

    SQLiteOutbox(path).put(_event("from-a-task-process"))  # another connection commits
    relay.put(_event("from-the-sidecar-itself"))  # the relay's own connection (the reconciler's path)
    items = relay.read_batch("relay", block_ms=1000)
    assert [it.event.run_id for it in items] == ["from-a-task-process", "from-the-sidecar-itself"]

    relay.ack(items)
    assert relay.read_batch("relay", block_ms=0) == []  # empty again, and remembered as empty
    relay.put(_event("own-write-after-an-empty-look"))
    again = relay.read_batch("relay", block_ms=1000)
    assert [it.event.run_id for it in again] == ["own-write-after-an-empty-look"]


def test_rows_left_unacknowledged_are_read_again_by_the_same_relay(tmp_path: Path):
    """A failed batch leaves its rows; the table is not empty, so the next look reads them although nothing moved."""
    path = tmp_path / "outbox.db"
    SQLiteOutbox(path).put(_event("r"))
    relay = SQLiteOutbox(path)
    assert [it.redelivered for it in relay.read_batch("relay", block_ms=0)] == [False]
    assert [it.redelivered for it in relay.read_batch("relay", block_ms=0)] == [True]
