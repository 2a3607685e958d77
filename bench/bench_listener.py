"""How much time does the AutoPR event listener add to a task?

    .venv/bin/python bench/bench_listener.py            # everything (~2-3 min here)
    .venv/bin/python bench/bench_listener.py --calls 5000 --tasks 20 --runs 5
    .venv/bin/python bench/bench_listener.py --only-handoff --processes 60   # Part 0 only

Part 0 — the hand-off as a task makes it, each task in a fresh process (these are
the README's figures).  A task runs in a process of its own: the plugin (and with it
the listener and its Redis client) loads before the task starts, then the task's
first hook call is that process's first hand-off.  ``--processes`` fresh Python
processes per hand-off (Redis at 127.0.0.1:6379, the embedded SQLite outbox) each
load the listener untimed, call ``on_starting`` as the task runner does at its
start-up (timed on a row of its own: it opens the outbox's connection, before the
DAG is parsed), then time their ``on_task_instance_running`` and
``on_task_instance_success`` calls with a real ``RuntimeTaskInstance`` of a real
DAG (the two hooks every successful task makes).  Prints p50 / p95 / max of each
call and of their sum per task, in milliseconds.

Part 1 — per hook call, warm.  A real ``RuntimeTaskInstance`` and ``DagRun`` are
captured from a ``dag.test()`` run, then the listener's hooks are called with
them ``--calls`` times for each hand-off: Redis configured (127.0.0.1:6379,
a private stream), the embedded SQLite outbox, and Redis configured but down
(a closed port: the local spool takes over).  Prints median / p99 / max in
microseconds.

Part 2 — per task, inside Airflow.  The same DAG (``--tasks`` trivial tasks)
runs through ``dag.test()`` with the listener registered; pluggy's hook-call
monitoring times every listener hook Airflow itself calls while the tasks
run, which is exactly the time the listener adds to each task.  Then the DAG
runs ``--runs`` times with and without the listener and the wall-clock
difference per task is printed too (it is small next to dag.test()'s own
per-task cost, so expect noise of the same order).

Part 3 — relay throughput: ``--relay-events`` events handed off, then one
relay persists and publishes them (Redis Stream → PostgreSQL, and the
embedded SQLite outbox → SQLite).

Target: median added time per hook call and per task under 1 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# A --handoff-child process (Part 0) works in its parent's state dir.
_CHILD = "--handoff-child" in sys.argv
_STATE = Path(os.environ["AUTOPR_STATE_DIR"]) if _CHILD else Path(tempfile.mkdtemp(prefix="autopr-bench-listener-"))
os.environ["AUTOPR_STATE_DIR"] = str(_STATE)
os.environ.pop("AUTOPR_REDIS_URL", None)
os.environ["AIRFLOW_HOME"] = str(_STATE / "airflow")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_STATE / 'airflow' / 'airflow.db'}"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_STATE / "dags")  # empty: only the bench DAG is parsed
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(_STATE / "plugins")  # the listener is registered explicitly
for _sub in ("airflow", "dags", "plugins"):
    (_STATE / _sub).mkdir(parents=True, exist_ok=True)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def fmt_us(values: list[float]) -> str:
    us = [v * 1e6 for v in values]
    return f"median {statistics.median(us):8.1f} us   p99 {percentile(us, 99):8.1f} us   max {max(us):9.1f} us"


def migrate_airflow() -> None:
    print("airflow db migrate (bench metadata DB) ...", flush=True)
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())


def build_dag(dag_id: str, tasks: int):
    from datetime import datetime

    from airflow.sdk import dag, task

    @dag(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1), tags=["project:bench"])
    def bench():
        @task
        def noop(i: int) -> int:
            return i

        for i in range(tasks):
            noop.override(task_id=f"noop_{i:03d}")(i)

    return bench()


def serialize(dag) -> None:
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


def managers():
    from airflow.listeners.listener import get_listener_manager as core_manager
    from airflow.sdk.listener import get_listener_manager as sdk_manager

    return core_manager(), sdk_manager()


def set_listener(enabled: bool) -> None:
    from include.events import listener

    for manager in managers():
        if enabled:
            manager.add_listener(listener)
        elif manager.pm.is_registered(listener):
            manager.pm.unregister(listener)


def use_settings(**env: str) -> None:
    from include.events.outbox import reset_outboxes
    from include.settings import get_settings

    for key in ("AUTOPR_REDIS_URL",):
        os.environ.pop(key, None)
    for key, value in env.items():
        os.environ[f"AUTOPR_{key.upper()}"] = value
    reset_outboxes()
    get_settings.cache_clear()


class Capture:
    """A listener that keeps the real objects Airflow passes to hooks."""

    ti = None
    dag_run = None

    def __init__(self):
        from airflow.listeners import hookimpl

        capture = self

        class _Hooks:
            @hookimpl
            def on_task_instance_success(self, previous_state, task_instance):
                capture.ti = task_instance

            @hookimpl
            def on_dag_run_success(self, dag_run, msg):
                capture.dag_run = dag_run

        self.hooks = _Hooks()


def handoff_child() -> None:
    """One fresh process = one task: load the listener as the plugin does, then time the task's two hook calls."""
    import json
    from datetime import UTC, datetime

    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    from include.events import listener  # what loading the plugin does, before the task starts

    with DAG("bench_handoff", schedule=None, tags=["project:bench"]) as dag:
        task = EmptyOperator(task_id="handoff")
    ti = RuntimeTaskInstance.model_construct(
        id=uuid.uuid4(),
        task_id=task.task_id,
        dag_id=dag.dag_id,
        run_id=f"manual__{uuid.uuid4().hex[:8]}",
        try_number=1,
        map_index=-1,
        max_tries=0,
        task=task,
        start_date=datetime.now(UTC),
    )
    # The task runner's start-up, before it parses the DAG: on_starting opens the outbox's connection.
    from airflow.sdk.execution_time.task_runner import TaskRunnerMarker

    start = time.perf_counter()
    listener.on_starting(component=TaskRunnerMarker())
    startup = time.perf_counter() - start
    times = []
    for hook in (listener.on_task_instance_running, listener.on_task_instance_success):
        start = time.perf_counter()
        hook(previous_state=None, task_instance=ti)
        times.append(time.perf_counter() - start)
    print(json.dumps({"startup": startup, "running": times[0], "success": times[1]}), flush=True)


def bench_handoff_processes(processes: int) -> dict:
    """Part 0: each task's hand-off measured in a fresh process, as Airflow runs a task."""
    import json

    import redis

    from include.events.outbox import get_outbox, reset_outboxes
    from include.settings import load_settings

    stream = f"bench:handoff:{uuid.uuid4().hex[:8]}"
    modes = [
        ("redis (127.0.0.1:6379)", {"AUTOPR_REDIS_URL": "redis://127.0.0.1:6379/0", "AUTOPR_EVENTS_STREAM": stream}),
        ("embedded (SQLite WAL)", {}),
    ]
    # the embedded outbox's file exists before any task runs (the sidecar's relay created it)
    get_outbox(load_settings(state_dir=_STATE)).close()
    reset_outboxes()
    print(
        f"\n== Part 0: the hand-off as a task makes it, one fresh process per task ({processes} per row; "
        f"load avg {os.getloadavg()[0]:.1f}) =="
    )
    results = {}
    try:
        for name, extra in modes:
            env = {k: v for k, v in os.environ.items() if k not in ("AUTOPR_REDIS_URL", "AUTOPR_EVENTS_STREAM")}
            env.update(extra)
            rows = []
            for _ in range(processes):
                out = subprocess.run(
                    [sys.executable, __file__, "--handoff-child"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=300,
                )
                if out.returncode != 0:
                    raise RuntimeError(f"hand-off child failed:\n{out.stderr[-2000:]}")
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            series = {
                "on_starting (start-up)": [r["startup"] for r in rows],
                "running (1st call)": [r["running"] for r in rows],
                "success (2nd call)": [r["success"] for r in rows],
                "per task (both)": [r["running"] + r["success"] for r in rows],
            }
            results[name] = {}
            shown = name
            for label, values in series.items():
                ms = [v * 1e3 for v in values]
                stats = {"p50": statistics.median(ms), "p95": percentile(ms, 95), "max": max(ms)}
                results[name][label] = stats
                print(
                    f"{shown:24s} {label:22s} p50 {stats['p50']:6.3f} ms   p95 {stats['p95']:6.3f} ms   "
                    f"max {stats['max']:7.3f} ms"
                )
                shown = ""  # the mode's name on its first row only
    finally:
        redis.Redis().delete(stream)
    return results


def bench_hook_calls(calls: int) -> None:
    from include.events import listener

    capture = Capture()
    for manager in managers():
        manager.add_listener(capture.hooks)
    dag = build_dag("bench_capture", 1)
    serialize(dag)
    dag.test()
    for manager in managers():
        manager.pm.unregister(capture.hooks)
    ti, dag_run = capture.ti, capture.dag_run
    assert ti is not None and dag_run is not None, "could not capture real hook arguments"

    import redis

    stream = f"bench:listener:{uuid.uuid4().hex[:8]}"
    closed_port = _closed_port()
    modes = [
        ("redis (127.0.0.1:6379)", {"redis_url": "redis://127.0.0.1:6379/0", "events_stream": stream}),
        ("embedded (SQLite WAL)", {}),
        ("redis DOWN (spool)", {"redis_url": f"redis://127.0.0.1:{closed_port}/0", "events_stream": stream + ":down"}),
    ]
    print(f"\n== Part 1: one listener hook call ({calls} calls per row; real RuntimeTaskInstance / DagRun) ==")
    for name, env in modes:
        use_settings(**env)
        # warm up: lazy client / connection / file creation happen once per process
        listener.on_task_instance_running(previous_state=None, task_instance=ti)
        ti_times, run_times = [], []
        for i in range(calls):
            start = time.perf_counter()
            if i % 2:
                listener.on_task_instance_success(previous_state=None, task_instance=ti)
            else:
                listener.on_task_instance_running(previous_state=None, task_instance=ti)
            ti_times.append(time.perf_counter() - start)
        for _ in range(max(100, calls // 10)):
            start = time.perf_counter()
            listener.on_dag_run_success(dag_run=dag_run, msg="success")
            run_times.append(time.perf_counter() - start)
        print(f"{name:24s} task hook     {fmt_us(ti_times)}")
        print(f"{'':24s} dag-run hook  {fmt_us(run_times)}")
    redis.Redis().delete(stream, stream + ":down")


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_tasks(tasks: int, runs: int) -> None:
    from airflow.sdk import DagRunState

    use_settings()  # embedded outbox: the default a newcomer gets
    dag = build_dag("bench_tasks", tasks)
    serialize(dag)

    from airflow.listeners import hookimpl

    from include.events import listener

    own: dict[str, list[float]] = {}  # ti key -> durations of the listener's own code, per hook call

    def timed(fn, ti):
        start = time.perf_counter()
        fn()
        key = f"{ti.task_id}|{ti.run_id}" if ti is not None else "stopping"
        own.setdefault(key, []).append(time.perf_counter() - start)

    class TimedListener:
        """Calls the real listener hooks and times exactly their code."""

        last_ti = None

        @hookimpl
        def on_task_instance_running(self, previous_state, task_instance):
            TimedListener.last_ti = task_instance
            timed(lambda: listener.on_task_instance_running(previous_state, task_instance), task_instance)

        @hookimpl
        def on_task_instance_success(self, previous_state, task_instance):
            timed(lambda: listener.on_task_instance_success(previous_state, task_instance), task_instance)

        @hookimpl
        def before_stopping(self, component):
            timed(lambda: listener.before_stopping(component), TimedListener.last_ti)

    dispatch: list[float] = []
    stack: list[float] = []
    timed_listener = TimedListener()

    def before(hook_name, hook_impls, kwargs):
        stack.append(time.perf_counter())

    def after(outcome, hook_name, hook_impls, kwargs):
        started = stack.pop()
        if any(impl.plugin is timed_listener for impl in hook_impls):
            dispatch.append(time.perf_counter() - started)

    _core, sdk = managers()
    sdk.add_listener(timed_listener)
    undo = sdk.pm.add_hookcall_monitoring(before, after)
    dag.test()  # warm-up run
    own.clear()
    dispatch.clear()
    for _ in range(runs):
        assert dag.test().state == DagRunState.SUCCESS
    undo()
    sdk.pm.unregister(timed_listener)
    per_call = [d for durations in own.values() for d in durations]
    per_task = [sum(durations) for durations in own.values()]
    print(f"\n== Part 2: inside real task runs (dag.test(), {tasks} tasks x {runs} runs, embedded outbox) ==")
    print(f"listener hook calls made by Airflow: {len(per_call)} ({len(per_task)} task instances)")
    print(f"listener code per hook call  {fmt_us(per_call)}")
    print(f"added per task (all hooks)   {fmt_us(per_task)}")
    print(f"hook dispatch incl. Airflow's own hook tracing/logging: {fmt_us(dispatch)}")

    walls = {True: [], False: []}
    for _ in range(runs):
        for enabled in (False, True):
            set_listener(enabled)
            start = time.perf_counter()
            dag.test()
            walls[enabled].append((time.perf_counter() - start) / tasks)
    set_listener(False)
    without, with_ = statistics.median(walls[False]), statistics.median(walls[True])
    print(
        f"dag.test() wall per task: without {without * 1e3:.2f} ms, with {with_ * 1e3:.2f} ms, "
        f"difference {(with_ - without) * 1e3:+.2f} ms (noise: stdev without "
        f"{statistics.pstdev(walls[False]) * 1e3:.2f} ms)"
    )


def bench_relay(events: int) -> None:
    """Hand-off → persist → publish throughput of one relay (what the dashboard's no-loss runs depend on)."""
    import asyncio
    from datetime import UTC, datetime

    import redis
    from sqlalchemy import create_engine, text

    from include.db.migrate import upgrade
    from include.db.session import reset_engine
    from include.events.outbox import get_outbox
    from include.events.relay import RelayStats, run_relay
    from include.events.schema import StateEvent
    from include.settings import load_settings

    admin_url = os.environ.get("AUTOPR_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    pg_name = f"autopr_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
    pg_url = admin_url.rsplit("/", 1)[0] + f"/{pg_name}"
    sqlite_url = f"sqlite:///{_STATE / 'bench-app.db'}"
    stream = f"bench:relay:{uuid.uuid4().hex[:8]}"
    modes = [
        (
            "redis stream -> PostgreSQL",
            load_settings(
                database_url=pg_url, redis_url="redis://127.0.0.1:6379/0", events_stream=stream, state_dir=_STATE
            ),
        ),
        ("embedded SQLite -> SQLite", load_settings(database_url=sqlite_url, state_dir=_STATE / "relay-bench")),
    ]
    print(f"\n== Part 3: relay throughput ({events} events, one relay, no-op publish) ==")
    try:
        for name, settings in modes:
            upgrade(settings.database_url)
            outbox = get_outbox(settings)
            put_times = []
            for i in range(events):
                event = StateEvent(
                    event_type="task_instance",
                    project=f"p{i % 50}",
                    dag_id="bench",
                    run_id="r",
                    task_id=f"t{i}",
                    state="running",
                    occurred_at=datetime.now(UTC),
                )
                start = time.perf_counter()
                outbox.put(event)
                put_times.append(time.perf_counter() - start)
            stats = RelayStats()

            async def relay_all(settings=settings, stats=stats):
                stop = asyncio.Event()
                count = 0

                async def publish(_wire):
                    nonlocal count
                    count += 1
                    if count >= events:
                        stop.set()

                await run_relay(publish, settings=settings, stop=stop, stats=stats, batch_size=200, block_ms=100)

            start = time.perf_counter()
            asyncio.run(relay_all())
            elapsed = time.perf_counter() - start
            print(f"{name:28s} put {fmt_us(put_times)}")
            print(f"{'':28s} relayed {stats.published} in {elapsed:.2f} s = {stats.published / elapsed:,.0f} events/s")
    finally:
        redis.Redis().delete(stream)
        reset_engine()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--relay-events", type=int, default=5000, help="0 skips the relay throughput part")
    parser.add_argument("--processes", type=int, default=40, help="fresh processes (tasks) per hand-off in Part 0")
    parser.add_argument("--only-handoff", action="store_true", help="run Part 0 only")
    parser.add_argument("--handoff-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)  # Airflow's per-task INFO lines would dominate the output
    if args.handoff_child:
        handoff_child()
        return 0
    bench_handoff_processes(args.processes)
    if args.only_handoff:
        return 0
    migrate_airflow()
    bench_hook_calls(args.calls)
    bench_tasks(args.tasks, args.runs)
    if args.relay_events:
        bench_relay(args.relay_events)
    print("\ntarget: median < 1000 us added per hook call and per task")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
