"""The reconciler as the sidecar runs it (every second, under its lease) against Airflow's real REST API.

What Airflow decides without a listener hook -- a run queued, a task
``upstream_failed`` or ``skipped`` by the real scheduling code of ``dag.test()`` --
reaches the outbox within seconds of Airflow's own timestamp of the state, each
state once; a poll reads only what changed since the last one.  The latency
target (p95 <= 3 s) is measured by bench/bench_event_latency.py; here the bound
is loose so the test holds on a loaded machine.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Self

import httpx
import pytest

from tests.events.test_listener_airflow import _serialize
from tests.events.test_reconcile import PASSWORD, USER, _branch_dag, airflow_api  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(300)

#: Far above the 3 s target: only "arrives, and not one reconciler interval of 15 s later".
LOOSE_BOUND_S = 10.0


class RecordingOutbox:
    """The embedded outbox, remembering when each event was handed to it."""

    def __init__(self, path):
        from include.events.outbox import SQLiteOutbox

        self.outbox = SQLiteOutbox(path)
        self.put_at: list[tuple[object, float]] = []

    def put(self, event) -> None:
        self.outbox.put(event)
        self.put_at.append((event, time.time()))


class ReconcilerThread:
    """``run_reconciler`` on its own event loop, as the sidecar's background task runs it."""

    def __init__(self, settings, outbox, interval: float = 1.0):
        self.settings, self.outbox, self.interval = settings, outbox, interval
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from include.events.reconcile import run_reconciler

        async def main() -> None:
            self.stop_event = asyncio.Event()
            await run_reconciler(self.stop_event, interval=self.interval, settings=self.settings, outbox=self.outbox,
                                 lookback=timedelta(seconds=5))  # fmt: skip

        self.loop.run_until_complete(main())

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=30)


def _wait(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _airflow_with_dag(event_settings, api_url: str, dag_id: str):
    """Settings that reach the in-process Airflow, the branch DAG parsed into it, and a token for its API."""
    settings = event_settings(airflow_api_url=api_url, airflow_api_username=USER, airflow_api_password=PASSWORD)
    dag = _branch_dag(dag_id)
    _serialize(dag)
    token = httpx.post(f"{api_url}/auth/token", json={"username": USER, "password": PASSWORD}).json()
    return settings, dag, {"Authorization": f"Bearer {token['access_token']}"}


def _trigger(api_url: str, dag_id: str, headers: dict) -> dict:
    """A DAG run through the API; nothing starts it here (no scheduler), so it stays queued."""
    resp = httpx.post(f"{api_url}/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_hookless_states_arrive_within_seconds_of_airflow_recording_them(
    isolated_dags_folder, airflow_api, event_settings, tmp_path  # noqa: F811 - fixture
):
    settings, dag, headers = _airflow_with_dag(event_settings, airflow_api, "autopr_reconcile_live")
    outbox = RecordingOutbox(tmp_path / "outbox.db")

    def mine(state: str, task_id: str | None = None):
        return [(e, at) for e, at in outbox.put_at
                if e.dag_id == dag.dag_id and e.state == state and e.task_id == task_id]  # fmt: skip

    with ReconcilerThread(settings, outbox):
        time.sleep(1.5)  # the first polls (lease taken, lookback read)
        dag_run = dag.test()
        assert dag_run.state == "failed"
        queued_at = datetime.fromisoformat(_trigger(airflow_api, dag.dag_id, headers)["queued_at"])
        _wait(lambda: mine("upstream_failed", "after_failure") and mine("skipped", "not_chosen") and mine("queued"))
        time.sleep(2.5)  # more polls: none may hand the same states off again

    airflow = httpx.get(f"{airflow_api}/api/v2/dags/{dag.dag_id}/dagRuns/{dag_run.run_id}/taskInstances",
                        headers=headers).json()["task_instances"]  # fmt: skip
    ended = {ti["task_id"]: datetime.fromisoformat(ti["end_date"]) for ti in airflow}
    latencies = {}
    for state, task_id, recorded in (
        ("upstream_failed", "after_failure", ended["after_failure"]),
        ("skipped", "not_chosen", ended["not_chosen"]),
        ("queued", None, queued_at),
    ):
        found = mine(state, task_id)
        assert len(found) == 1, f"{state} handed off {len(found)} times"
        event, put_at = found[0]
        assert event.occurred_at == recorded  # Airflow's own time of the state: what the page orders by
        latencies[state] = put_at - recorded.timestamp()
    print("reconciler latency from Airflow's timestamp (s):", {k: round(v, 2) for k, v in latencies.items()})
    assert all(0 <= v < LOOSE_BOUND_S for v in latencies.values()), latencies


def test_each_poll_reads_only_what_changed_since_the_last(
    isolated_dags_folder, airflow_api, event_settings, tmp_path  # noqa: F811 - fixture
):
    from include.events.reconcile import Reconciler

    settings, dag, _ = _airflow_with_dag(event_settings, airflow_api, "autopr_reconcile_incremental")
    since = datetime.now(UTC) - timedelta(seconds=1)
    dag.test()
    outbox = RecordingOutbox(tmp_path / "outbox.db")
    reconciler = Reconciler(settings=settings, outbox=outbox)
    first = asyncio.run(reconciler.run_once(since=since))
    assert {(e.task_id, e.state) for e in first.emitted_events} >= {("after_failure", "upstream_failed"),
                                                                    ("not_chosen", "skipped")}  # fmt: skip
    assert datetime.now(UTC) - reconciler.since <= reconciler.overlap + timedelta(seconds=5)
    def this_dags(result) -> list:
        return [e for e in result.emitted_events if e.dag_id == dag.dag_id]

    again = asyncio.run(reconciler.run_once())
    # The overlap reads the same rows again; what was handed off already is not handed off twice.
    assert this_dags(again) == []
    time.sleep(reconciler.overlap.total_seconds() + 1)
    assert this_dags(asyncio.run(reconciler.run_once())) == []  # its window still starts before the run ended
    quiet = asyncio.run(reconciler.run_once())
    assert quiet.task_instances_seen == 0 and quiet.dag_runs_seen == 0  # nothing changed since the last look


def test_a_run_queued_for_less_than_a_poll_is_still_reported_queued(
    isolated_dags_folder, airflow_api, event_settings, tmp_path  # noqa: F811 - fixture
):
    """A scheduler often starts a queued run within a second: the run's queued_at still says it was queued."""
    from include.events.reconcile import Reconciler

    settings, dag, headers = _airflow_with_dag(event_settings, airflow_api, "autopr_reconcile_brief_queue")
    since = datetime.now(UTC) - timedelta(seconds=1)
    run = _trigger(airflow_api, dag.dag_id, headers)
    # Past "queued" before any poll looked (a user marks it; the scheduler would have started it).
    marked = httpx.patch(f"{airflow_api}/api/v2/dags/{dag.dag_id}/dagRuns/{run['dag_run_id']}",
                         json={"state": "success"}, headers=headers)  # fmt: skip
    assert marked.status_code == 200, marked.text
    result = asyncio.run(Reconciler(settings=settings, outbox=RecordingOutbox(tmp_path / "o.db")).run_once(since=since))
    queued = [e for e in result.emitted_events if e.dag_id == dag.dag_id and e.state == "queued"]
    assert [(e.event_type, e.occurred_at) for e in queued] == [("dag_run", datetime.fromisoformat(run["queued_at"]))]
