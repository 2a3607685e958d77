"""The reconciler against Airflow's real REST API (served in-process by uvicorn on a free port)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.events.conftest import free_port
from tests.events.test_listener_airflow import _register_listener, _relay_all, _serialize

pytestmark = pytest.mark.timeout(300)

USER, PASSWORD = "reconciler", "s3cret-reconciler"


@pytest.fixture(scope="module")
def airflow_api(airflow_db, tmp_path_factory):
    """Airflow's API server app (simple auth manager, one user) on a free port in this process."""
    import os

    import uvicorn

    pw_file = tmp_path_factory.mktemp("auth") / "passwords.json"
    pw_file.write_text(json.dumps({USER: PASSWORD}))
    env = {
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from airflow.api_fastapi.app import create_app

    app = create_app(apps="core")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/monitor/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        pytest.fail("in-process Airflow API server did not come up")
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _branch_dag(dag_id: str):
    from datetime import datetime

    from airflow.sdk import dag, task

    @dag(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["project:beta"])
    def reconcile_demo():
        @task
        def fails() -> None:
            raise ValueError("nope")

        @task
        def after_failure() -> None:  # never runs: upstream_failed, decided by the scheduler
            return None

        @task.branch
        def choose() -> str:
            return "chosen"

        @task
        def chosen() -> None:
            return None

        @task
        def not_chosen() -> None:  # skipped by the branch: no hook fires for it
            return None

        fails() >> after_failure()
        choose() >> [chosen(), not_chosen()]

    return reconcile_demo()


def test_reconciler_reports_hookless_states_once(isolated_dags_folder, airflow_api, event_settings, db):
    from include.events.reconcile import reconcile_once_sync

    settings = event_settings(airflow_api_url=airflow_api, airflow_api_username=USER, airflow_api_password=PASSWORD)
    _register_listener()
    dag = _branch_dag("autopr_reconcile_demo")
    _serialize(dag)
    since = datetime.now(UTC) - timedelta(seconds=1)  # ignore runs of earlier tests in this Airflow DB
    dag_run = dag.test()
    assert dag_run.state == "failed"

    # A run triggered through the API but not started (no scheduler here): "queued", which no hook reports.
    token = httpx.post(f"{airflow_api}/auth/token", json={"username": USER, "password": PASSWORD}).json()[
        "access_token"
    ]
    resp = httpx.post(
        f"{airflow_api}/api/v2/dags/{dag.dag_id}/dagRuns",
        json={"logical_date": None},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200, resp.text
    queued_run_id = resp.json()["dag_run_id"]

    # Listener events of the dag.test() run are in the outbox already.
    result = reconcile_once_sync(settings=settings, grace=timedelta(0), since=since)
    emitted = {(e.event_type, e.task_id, e.state) for e in result.emitted_events}
    assert ("task_instance", "after_failure", "upstream_failed") in emitted
    assert ("task_instance", "not_chosen", "skipped") in emitted
    assert ("dag_run", None, "queued") in emitted
    # Safety net with grace=0: hook-reported terminal states are re-reported too (deduplicated below).
    assert ("task_instance", "fails", "failed") in emitted
    assert all(e.project == "beta" for e in result.emitted_events)
    queued = next(e for e in result.emitted_events if e.state == "queued")
    assert queued.run_id == queued_run_id

    # Polling again re-emits the same keys: they must not become new rows.
    reconcile_once_sync(settings=settings, grace=timedelta(0), since=since)

    listener_states = {
        ("task_instance", t, s)
        for t, s in [
            ("fails", "running"),
            ("fails", "failed"),
            ("choose", "running"),
            ("choose", "success"),
            ("chosen", "running"),
            ("chosen", "success"),
        ]
    } | {("dag_run", None, "failed")}
    expected = listener_states | {
        ("task_instance", "after_failure", "upstream_failed"),
        ("task_instance", "not_chosen", "skipped"),
        ("dag_run", None, "queued"),
    }
    published = _relay_all(settings, expected=len(expected))
    got = [(w["event_type"], w["task_id"], w["state"]) for w in published]
    assert len(got) == len(set(got)), f"duplicates published: {got}"
    assert set(got) == expected
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from include.db.models import ExecutionEvent

    with Session(db) as session:
        # This DAG's rows only: the shared platform's sidecar may persist other tests' events meanwhile.
        stored = select(func.count()).select_from(ExecutionEvent).where(ExecutionEvent.dag_id == dag.dag_id)
        assert session.scalar(stored) == len(expected)


def test_reconciler_reports_clear_error_for_bad_credentials(airflow_api, event_settings):
    from include.events.reconcile import ReconcileError, reconcile_once_sync

    settings = event_settings(airflow_api_url=airflow_api, airflow_api_username=USER, airflow_api_password="wrong")
    with pytest.raises(ReconcileError, match="auth/token failed: HTTP 401"):
        reconcile_once_sync(settings=settings)


def test_reconciler_hands_events_off_outside_the_event_loop(
    isolated_dags_folder, airflow_api, event_settings, tmp_path
):
    """In the sidecar the reconciler shares the loop that writes live frames: its puts must not block it."""
    import asyncio

    from include.events.outbox import SQLiteOutbox
    from include.events.reconcile import reconcile_once

    settings = event_settings(airflow_api_url=airflow_api, airflow_api_username=USER, airflow_api_password=PASSWORD)
    dag = _branch_dag("autopr_reconcile_off_loop")
    _serialize(dag)
    since = datetime.now(UTC) - timedelta(seconds=1)
    token = httpx.post(f"{airflow_api}/auth/token", json={"username": USER, "password": PASSWORD}).json()[
        "access_token"
    ]
    resp = httpx.post(  # a queued run: an event no hook reports, so the reconciler must put it
        f"{airflow_api}/api/v2/dags/{dag.dag_id}/dagRuns",
        json={"logical_date": None},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200, resp.text
    put_threads: list[int] = []

    class RecordingOutbox(SQLiteOutbox):
        def put(self, event):
            put_threads.append(threading.get_ident())
            super().put(event)

    outbox = RecordingOutbox(tmp_path / "outbox.db")

    async def main():
        result = await reconcile_once(settings=settings, outbox=outbox, since=since, grace=timedelta(0))
        return threading.get_ident(), result

    loop_thread, result = asyncio.run(main())
    assert any(e.dag_id == dag.dag_id and e.state == "queued" for e in result.emitted_events)
    assert len(put_threads) == result.emitted == outbox.backlog()
    assert loop_thread not in put_threads
