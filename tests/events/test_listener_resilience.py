"""The listener never fails or slows a task: Redis unreachable, database unreachable, broken inputs."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.events.conftest import RedisServer, free_port
from tests.events.test_listener_airflow import _build_dag, _register_listener, _relay_all, _serialize

pytestmark = pytest.mark.timeout(180)


def test_redis_down_during_a_dag_run_then_back_nothing_lost(
    isolated_dags_folder, airflow_db, event_settings, db, tmp_path
):
    """Tasks run normally while Redis is unreachable; once Redis is back every event reaches the database."""
    server = RedisServer(tmp_path / "redis")  # its port is free: nothing listens there yet
    settings = event_settings(server.url)
    _register_listener()
    dag = _build_dag("autopr_listener_redis_down")
    _serialize(dag)
    dag_run = dag.test()
    assert dag_run.state == "failed"  # the DAG's own failing task, nothing else
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states == {"extract": "success", "double": "success", "explode": "failed"}

    from include.events.outbox import get_outbox

    outbox = get_outbox(settings)
    assert outbox.spool.backlog() == 7  # buffered locally, not dropped
    server.start()
    try:
        time.sleep(1.1)  # past the back-off
        published = _relay_all(settings, expected=7)  # the relay drains the spool into the stream first
    finally:
        server.stop()
    got = [(w["task_id"], w["state"]) for w in published]
    assert got[-1] == (None, "failed")
    assert sorted(got, key=str) == sorted(
        [
            ("extract", "running"),
            ("extract", "success"),
            ("explode", "running"),
            ("explode", "failed"),
            ("double", "running"),
            ("double", "success"),
            (None, "failed"),
        ],
        key=str,
    )


def test_hooks_swallow_every_error(event_settings, tmp_path, caplog):
    """Garbage in, unwritable state dir, unreachable Redis: hooks return quickly and never raise."""
    from include.events import listener

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state dir should be")
    event_settings(f"redis://127.0.0.1:{free_port()}/0", state_dir=str(blocker))
    start = time.perf_counter()
    listener.on_task_instance_running(previous_state=None, task_instance=None)
    listener.on_task_instance_success(previous_state=None, task_instance=object())
    listener.on_task_instance_failed(previous_state=None, task_instance=None, error=RuntimeError("x"))
    listener.on_task_instance_skipped(previous_state=None, task_instance=None)
    listener.on_dag_run_running(dag_run=None, msg="")
    listener.on_dag_run_success(dag_run=object(), msg="")
    listener.on_dag_run_failed(dag_run=None, msg="")
    listener.before_stopping(component=None)
    assert time.perf_counter() - start < 1.0


def test_spool_unwritable_keeps_events_in_memory_and_logs(event_settings, tmp_path, caplog):
    from datetime import UTC, datetime

    from include.events.outbox import get_outbox
    from include.events.schema import StateEvent

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    settings = event_settings(state_dir=str(blocker))  # embedded outbox under an unusable path
    outbox = get_outbox(settings)
    event = StateEvent(
        event_type="dag_run", project="p", dag_id="d", run_id="r", state="running", occurred_at=datetime.now(UTC)
    )
    outbox.put(event)  # does not raise
    assert list(outbox._memory) == [event.to_json()]
    assert "held in memory" in caplog.text
    outbox._memory.clear()  # the state dir stays unusable: nothing to write at exit


def test_relay_with_database_down_keeps_events_until_it_is_back(event_settings, db):
    from datetime import UTC, datetime

    from include.events.outbox import get_outbox
    from include.events.relay import RelayStats, run_relay
    from include.events.schema import StateEvent
    from include.settings import load_settings

    settings = event_settings()
    outbox = get_outbox(settings)
    for i in range(3):
        outbox.put(
            StateEvent(
                event_type="dag_run",
                project="p",
                dag_id="d",
                run_id=f"r{i}",
                state="running",
                occurred_at=datetime.now(UTC),
            )
        )
    down = load_settings(
        database_url=f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/nope", state_dir=settings.state_dir
    )
    stats = RelayStats()
    published = []

    async def publish(wire):
        published.append(wire)

    async def run_briefly():
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_relay(publish, settings=down, stop=stop, outbox=outbox, stats=stats, block_ms=50)
        )
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(run_briefly())
    assert published == [] and stats.errors >= 1 and "OperationalError" in stats.last_error
    assert outbox.backlog() == 3  # nothing acknowledged while the database was down
    wires = _relay_all(settings, expected=3)
    assert [w["run_id"] for w in wires] == ["r0", "r1", "r2"]
    assert outbox.backlog() == 0


def test_loading_the_listener_imports_the_outbox_so_a_tasks_first_hook_call_does_not():
    """The plugin loads the listener before a task runs; the outbox (settings, SQLite/Redis
    code, ~50 ms cold) must come with it, not inside the first hook call of a task process."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, include.events.listener; "
        "print('include.events.outbox' in sys.modules and 'include.settings' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2], check=True)
    assert out.stdout.strip() == "True", out.stderr


def test_with_redis_configured_loading_the_listener_imports_the_redis_client():
    """``import redis`` is ~350 ms cold; it must not land in a task's first hook call."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, include.events.listener; print('redis' in sys.modules)"
    env = {**os.environ, "AUTOPR_REDIS_URL": "redis://127.0.0.1:6379/0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                         cwd=Path(__file__).resolve().parents[2], check=True)
    assert out.stdout.strip() == "True", out.stderr
