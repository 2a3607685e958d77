"""The listener inside real Airflow: ``dag.test()`` with the listener registered, events → outbox → relay → DB."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.timeout(300)


def _register_listener():
    """What the plugin does in a deployment: register include.events.listener with both listener managers."""
    from airflow.listeners.listener import get_listener_manager as core_manager
    from airflow.sdk.listener import get_listener_manager as sdk_manager

    from include.events import listener

    core_manager().add_listener(listener)
    sdk_manager().add_listener(listener)


def _build_dag(dag_id: str):
    from datetime import datetime

    from airflow.sdk import dag, task

    @dag(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["project:alpha", "demo"])
    def listener_demo():
        @task
        def extract() -> int:
            return 21

        @task
        def double(value: int) -> int:
            return value * 2

        @task(retries=0)
        def explode(value: int) -> None:
            raise RuntimeError(f"boom {value}")

        value = extract()
        double(value)
        explode(value)

    return listener_demo()


def _serialize(dag) -> None:
    """Write the DAG to Airflow's metadata DB the way the DAG processor would (dag.test() needs a version)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    with create_session() as session:
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
        )


def _relay_all(settings, expected: int) -> list[dict]:
    """Run the relay until ``expected`` events were published; return them in publish order."""
    from include.events.relay import run_relay

    published: list[dict] = []

    async def main():
        stop = asyncio.Event()

        async def publish(wire: dict) -> None:
            published.append(wire)
            if len(published) >= expected:
                stop.set()

        await asyncio.wait_for(run_relay(publish, settings=settings, stop=stop, block_ms=100), timeout=30)

    asyncio.run(main())
    return published


EXPECTED = [
    ("task_instance", "extract", "running"),
    ("task_instance", "extract", "success"),
    ("task_instance", "explode", "running"),
    ("task_instance", "explode", "failed"),
    ("task_instance", "double", "running"),
    ("task_instance", "double", "success"),
    ("dag_run", None, "failed"),
]


@pytest.mark.parametrize("transport", ["embedded", "redis"])
def test_dag_test_events_reach_outbox_then_database(
    isolated_dags_folder, transport, airflow_db, event_settings, db, redis_url, redis_cleanup
):
    settings = event_settings(redis_url if transport == "redis" else None)
    _register_listener()
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from include.db.models import ExecutionEvent

    dag = _build_dag(f"autopr_listener_demo_{transport}")
    _serialize(dag)
    dag_run = dag.test()
    assert dag_run.state == "failed"

    published = _relay_all(settings, expected=len(EXPECTED))
    got = [(w["event_type"], w["task_id"], w["state"]) for w in published]
    # dag.test() runs tasks one by one; within each task running precedes the outcome.
    assert sorted(got, key=str) == sorted(EXPECTED, key=str)
    for task_id in ("extract", "double", "explode"):
        states = [s for (_t, tid, s) in got if tid == task_id]
        assert states[0] == "running" and len(states) == 2
    assert got[-1] == ("dag_run", None, "failed")
    assert got.index(("task_instance", "extract", "success")) < got.index(("task_instance", "double", "running"))

    ids = [w["id"] for w in published]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {w["project"] for w in published} == {"alpha"}
    assert all(w["dag_id"] == dag.dag_id and w["run_id"] == dag_run.run_id for w in published)
    failed = next(w for w in published if w["task_id"] == "explode" and w["state"] == "failed")
    assert "boom 21" in failed["payload"]["error"]
    assert failed["try_number"] == 1 and failed["map_index"] == -1

    with Session(db) as session:
        # Only this DAG's rows: the session-wide platform's sidecar shares the app database and its
        # reconciler may persist events of other tests' runs at any moment.
        rows = session.execute(
            select(ExecutionEvent).where(ExecutionEvent.dag_id == dag.dag_id).order_by(ExecutionEvent.id)
        ).scalars().all()
    assert [(r.event_type, r.task_id, r.state) for r in rows] == got
    assert [r.id for r in rows] == ids


def test_plugin_registers_the_listener_with_airflow():
    """Deployments get the listener from the plugin (no explicit add_listener): Airflow's plugin loading wires it."""
    from airflow.listeners.listener import get_listener_manager as core_manager
    from airflow.sdk.listener import get_listener_manager as sdk_manager

    from include.events import listener

    assert sdk_manager().pm.is_registered(listener)
    assert core_manager().pm.is_registered(listener)
