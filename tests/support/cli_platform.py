"""Drive the README's run command the way a person does: a fresh clone, ``./autopr run``, Ctrl-C.

Shared by the newcomer test and ``bench/bench_startup.py``.  Only the ports
are moved (to free ones, through the documented ``AUTOPR_*_PORT`` settings);
everything else is the default a newcomer gets, including the state directory
inside the clone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from include.launcher.processes import _group_alive
from tests.support.ports import free_port

HEALTH_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")



def fresh_clone(source: Path, into: Path) -> Path:
    """``git clone`` of the committed tree: what a newcomer (and CI) gets, without local changes."""
    subprocess.run(["git", "clone", "-q", str(source), str(into)], check=True, timeout=120)
    return into


def newcomer_env(ports: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any platform or Airflow setting, plus free ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOPR_", "AIRFLOW", "MLFLOW_"))}
    env.update(ports or {
        "AUTOPR_AIRFLOW_PORT": str(free_port()), "AUTOPR_DASHBOARD_PORT": str(free_port()),
        "AUTOPR_MLFLOW_PORT": str(free_port()),
        "AUTOPR_AIRFLOW_LOG_SERVER_PORTS": f"{free_port()},{free_port()},{free_port()}",
    })
    return env


@dataclass
class CliRun:
    """One ``./autopr run`` in a clone; its output goes to ``log``."""

    clone: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None
    started: float = 0.0
    pgids: set[int] = field(default_factory=set)

    @property
    def state_dir(self) -> Path:
        return self.clone / ".autopr"

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.env['AUTOPR_AIRFLOW_PORT']}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.env['AUTOPR_DASHBOARD_PORT']}"

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.env['AUTOPR_MLFLOW_PORT']}"

    def start(self, *args: str) -> None:
        self.started = time.monotonic()
        out = open(self.log, "ab")
        self.process = subprocess.Popen(["./autopr", "run", *args], cwd=self.clone, env=self.env, stdout=out,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def services(self) -> dict[str, dict]:
        path = self.state_dir / "run" / "services.json"
        try:
            status = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        self.pgids.update(entry["pid"] for entry in status.values() if entry.get("pid"))
        return status

    def all_healthy(self) -> bool:
        try:
            health = httpx.get(f"{self.airflow_url}/api/v2/monitor/health", timeout=3).json()
            return (all(health.get(c, {}).get("status") == "healthy" for c in HEALTH_COMPONENTS)
                    and httpx.get(f"{self.dashboard_url}/healthz", timeout=3).status_code == 200
                    and httpx.get(f"{self.mlflow_url}/health", timeout=3).status_code == 200
                    and "all healthy" in self.output())
        except (httpx.HTTPError, ValueError):
            return False

    def wait_healthy(self, timeout: float) -> float:
        """Seconds from start until all healthy; raises with the run's output when it does not get there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"./autopr run exited ({self.process.returncode}):\n{self.output()[-4000:]}")
            if self.all_healthy():
                self.services()
                return time.monotonic() - self.started
            time.sleep(1)
        raise AssertionError(f"not all healthy after {timeout:.0f}s:\n{self.output()[-4000:]}")

    def wait_restarted(self, name: str, old_pid: int, timeout: float) -> float:
        """Seconds until the supervisor shows ``name`` under a new pid and says it is healthy again."""
        began = time.monotonic()
        deadline = began + timeout
        while time.monotonic() < deadline:
            entry = self.services().get(name, {})
            if entry.get("pid") not in (None, old_pid) and f"{name} is healthy" in self.output().split(
                    f"{name} restarted", 1)[-1]:
                return time.monotonic() - began
            assert self.process.poll() is None, f"the platform stopped:\n{self.output()[-4000:]}"
            time.sleep(0.5)
        raise AssertionError(f"{name} not back after {timeout:.0f}s:\n{self.output()[-4000:]}")

    def stop(self, timeout: float = 90) -> float:
        """Ctrl-C, as a person would; seconds until the run command has exited."""
        began = time.monotonic()
        self.services()
        os.kill(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=timeout)
        return time.monotonic() - began

    def leftovers(self) -> list[int]:
        """Process groups of services started by this run that still have a live member."""
        return sorted(pgid for pgid in self.pgids if _group_alive(pgid))

    def kill_everything(self) -> None:
        """Last-resort clean-up for a failed test, so nothing outlives it."""
        for pgid in [self.process.pid if self.process else None, *self.pgids]:
            if pgid:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
