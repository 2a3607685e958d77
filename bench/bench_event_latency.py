"""How long after Airflow records a state no listener hook reports does its event reach the outbox?

    .venv/bin/python bench/bench_event_latency.py               # 8 runs (a few minutes here)
    .venv/bin/python bench/bench_event_latency.py --runs 20 --interval 1.0

Airflow's own UI polls every few seconds; the target is p95 <= 3 s from
Airflow's timestamp of the state for every state.  What runs: Airflow's API
server in this process (simple auth manager, a private SQLite metadata DB --
the environment of bench/bench_listener.py), the sidecar's reconciler
(:func:`include.events.reconcile.run_reconciler`, under its lease) in a thread
at ``--interval``, and per round one ``dag.test()`` of a DAG whose real
scheduling code marks a task ``upstream_failed`` and another ``skipped``, plus
a DAG run triggered through the API and left ``queued`` (no scheduler here).
Latency = the moment the reconciler handed the event to the outbox minus the
time Airflow recorded for the state (``end_date``, ``queued_at``).  Printed
per state: count, p50, p95, max, with the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_listener as base  # sets up the bench's private Airflow environment at import

USER, PASSWORD = "bench", secrets.token_urlsafe(12)
_SECRET = secrets.token_urlsafe(48)
os.environ.update({
    "AUTOPR_JWT_SECRET": _SECRET,
    "AIRFLOW__API_AUTH__JWT_SECRET": _SECRET,
    "AIRFLOW__API_AUTH__JWT_AUDIENCE": "autopr-platform",
    "AIRFLOW__API_AUTH__JWT_ISSUER": "autopr-airflow",
    "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(base._STATE / "passwords.json"),
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
})  # fmt: skip
(base._STATE / "passwords.json").write_text(json.dumps({USER: PASSWORD}))


def start_api() -> str:
    import httpx
    import uvicorn
    from airflow.api_fastapi.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(apps="core"), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/api/v2/monitor/health", timeout=1).status_code == 200:
                return url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("Airflow API server did not start")


class TimedOutbox:
    """The embedded outbox, remembering when each event was handed to it."""

    def __init__(self, path: Path):
        from include.events.outbox import SQLiteOutbox

        self.outbox = SQLiteOutbox(path)
        self.put_at: dict[tuple, float] = {}

    def put(self, event) -> None:
        self.outbox.put(event)
        self.put_at.setdefault((event.dag_id, event.run_id, event.task_id, event.state), time.time())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--interval", type=float, default=1.0, help="reconciler interval (the default setting)")
    args = parser.parse_args()
    base.migrate_airflow()
    url = start_api()
    import httpx

    from include.events.reconcile import run_reconciler
    from include.settings import get_settings

    base.use_settings(airflow_api_url=url, airflow_api_username=USER, airflow_api_password=PASSWORD)
    settings = get_settings()
    outbox = TimedOutbox(base._STATE / "latency-outbox.db")
    from tests.events.test_reconcile import _branch_dag  # upstream_failed by a failure, skipped by a branch

    dag = _branch_dag("bench_event_latency")
    base.serialize(dag)
    token = httpx.post(f"{url}/auth/token", json={"username": USER, "password": PASSWORD}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def reconcile() -> None:
        loop.run_until_complete(run_reconciler(stop, interval=args.interval, settings=settings, outbox=outbox,
                                               lookback=timedelta(seconds=5)))  # fmt: skip

    thread = threading.Thread(target=reconcile, daemon=True)
    thread.start()
    expected: list[tuple[str, tuple, datetime]] = []  # (state, outbox key, Airflow's time of the state)
    print(f"reconciler every {args.interval} s; {args.runs} rounds of dag.test() + a queued run", flush=True)
    for n in range(args.runs):
        run = dag.test()
        tis = httpx.get(f"{url}/api/v2/dags/{dag.dag_id}/dagRuns/{run.run_id}/taskInstances", headers=auth).json()
        for ti in tis["task_instances"]:
            if ti["state"] in ("upstream_failed", "skipped"):
                key = (dag.dag_id, run.run_id, ti["task_id"], ti["state"])
                expected.append((ti["state"], key, datetime.fromisoformat(ti["end_date"])))
        queued = httpx.post(f"{url}/api/v2/dags/{dag.dag_id}/dagRuns", json={"logical_date": None}, headers=auth).json()
        expected.append(("dag run queued", (dag.dag_id, queued["dag_run_id"], None, "queued"),
                         datetime.fromisoformat(queued["queued_at"])))  # fmt: skip
        print(f"round {n + 1}/{args.runs} done", flush=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(key not in outbox.put_at for _, key, _ in expected):
        time.sleep(0.2)
    loop.call_soon_threadsafe(stop.set)
    thread.join(timeout=30)

    by_state: dict[str, list[float]] = {}
    missing = 0
    for state, key, recorded in expected:
        if key in outbox.put_at:
            by_state.setdefault(state, []).append(outbox.put_at[key] - recorded.timestamp())
        else:
            missing += 1
    load = os.getloadavg()[0]
    print(f"\nlatency from Airflow's timestamp to the outbox (load avg {load:.1f}; target p95 <= 3 s):")
    for state, values in sorted(by_state.items()):
        print(f"  {state:16s} n={len(values):3d}  p50 {statistics.median(values):5.2f} s  "
              f"p95 {base.percentile(values, 95):5.2f} s  max {max(values):5.2f} s")  # fmt: skip
    if missing:
        print(f"  {missing} state(s) never reached the outbox within 30 s")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
