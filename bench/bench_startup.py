"""How long the run command takes to bring the platform to all-healthy, and to stop it.

    .venv/bin/python bench/bench_startup.py [--runs 1]

Starts the platform exactly as ``./autopr run`` does (``start_platform``: migrate,
seed, Airflow standalone, dashboard sidecar, MLflow UI, airflow_settings.yaml) in a
fresh state directory on free ports, prints the seconds until every component
reports healthy (issue 2's target: Airflow all-healthy within 90 s), then stops
everything and checks that no process survives.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from pathlib import Path

from include.launcher.platform import airflow_all_healthy, start_platform
from include.launcher.processes import _group_alive
from include.settings import load_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_run() -> tuple[float, float, list[str]]:
    state = Path(tempfile.mkdtemp(prefix="autopr-bench-startup-"))
    settings = load_settings(
        state_dir=state, workflows_dir=state / "workflows", airflow_port=_free_port(), dashboard_port=_free_port(),
        mlflow_port=_free_port(), airflow_log_server_ports=(_free_port(), _free_port(), _free_port()),
    )
    started = time.monotonic()
    supervisor, _user, _password = start_platform(settings, on_progress=lambda m: None, timeout=300)
    healthy = time.monotonic() - started
    assert airflow_all_healthy(settings)
    stop_started = time.monotonic()
    supervisor.stop_all()
    stopped = time.monotonic() - stop_started
    leftovers = [s.name for s in supervisor.services if s.process and _group_alive(s.process.pid)]
    return healthy, stopped, leftovers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    for i in range(args.runs):
        healthy, stopped, leftovers = one_run()
        print(f"run {i + 1}: all healthy (Airflow, dashboard, MLflow) in {healthy:.1f} s "
              f"(target 90 s); stopped in {stopped:.1f} s; left running: {leftovers or 'nothing'}", flush=True)


if __name__ == "__main__":
    main()
