"""Start the whole platform for tests exactly the way the run command does.

``start_platform`` (include/launcher/platform.py) is the code behind
``./autopr run``; this module only picks free ports and a private state dir,
and shares the test session's app database, JWT secret and workflow folder so
tests can seed data and mint tokens that the running services accept.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

from include.launcher.platform import start_platform
from include.launcher.processes import Supervisor, _group_alive
from include.settings import Settings, get_settings, load_settings
from tests.support.ports import free_port


@dataclass
class RunningPlatform:
    settings: Settings
    supervisor: Supervisor
    username: str
    password: str

    @property
    def airflow_url(self) -> str:
        return self.settings.airflow_api_url

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.dashboard_port}"

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.mlflow_port}"

    def token(self, username: str | None = None, password: str | None = None) -> str:
        """A real JWT from Airflow's ``POST /auth/token``."""
        resp = httpx.post(f"{self.airflow_url}/auth/token",
                          json={"username": username or self.username, "password": password or self.password},
                          timeout=10)
        resp.raise_for_status()
        return resp.json()["access_token"]

    def api(self, token: str | None = None) -> httpx.Client:
        """An HTTP client on Airflow's API server, authenticated as the admin by default."""
        return httpx.Client(base_url=self.airflow_url, timeout=30,
                            headers={"Authorization": f"Bearer {token or self.token()}"})

    def wait_for_dag(self, dag_id: str, timeout: float = 60) -> dict:
        """Poll ``GET /api/v2/dags/{dag_id}`` until Airflow has parsed the DAG."""
        deadline = time.monotonic() + timeout
        with self.api() as client:
            while True:
                resp = client.get(f"/api/v2/dags/{dag_id}")
                if resp.status_code == 200:
                    return resp.json()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"DAG {dag_id} not visible after {timeout}s: {resp.status_code} {resp.text}")
                time.sleep(1)


@contextmanager
def running_platform(state_dir: Path, **overrides: object) -> Iterator[RunningPlatform]:
    """Start Airflow, the dashboard sidecar and MLflow on free ports; stop them all on exit."""
    session_settings = get_settings()
    values: dict[str, object] = {
        "state_dir": state_dir,
        "database_url": session_settings.database_url,
        "jwt_secret": session_settings.resolved_jwt_secret(),
        "workflows_dir": session_settings.workflows_dir,
        "airflow_port": free_port(),
        "dashboard_port": free_port(),
        "mlflow_port": free_port(),
        "airflow_log_server_ports": (free_port(), free_port(), free_port()),
    }
    values.update(overrides)
    settings = load_settings(**values)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AUTOPR_"))}
    supervisor, user, password = start_platform(settings, base_env=base_env, on_progress=lambda m: None,
                                                timeout=float(os.environ.get("AUTOPR_TEST_PLATFORM_TIMEOUT", "480")))
    try:
        yield RunningPlatform(settings, supervisor, user, password)
    finally:
        supervisor.stop_all()
        leftovers = [s.name for s in supervisor.services if s.process and _group_alive(s.process.pid)]
        assert not leftovers, f"still running after stop: {leftovers}"
