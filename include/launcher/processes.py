"""A tiny process supervisor: start commands in their own process groups, stop them all.

Each service runs in a new session so stopping it also stops everything it
spawned (``airflow standalone`` starts four ``airflow`` children): SIGTERM to
the group, a grace period, then SIGKILL.  Output goes to one log file per
service under ``<state_dir>/logs``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    is_healthy: Callable[[], bool]
    url: str = ""
    cwd: Path | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace_seconds: float = 20.0) -> None:
        if self.process is None:
            return
        pgid = self.process.pid  # start_new_session: the group id is the leader's pid
        for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(pgid):
                self.process.poll()
                time.sleep(0.2)
            if not _group_alive(pgid):
                break
        self.process.poll()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A group whose only members are zombies of ours counts as gone.
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            stat = (pid_dir / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class ServiceFailed(RuntimeError):
    pass


class Supervisor:
    """Starts services in order, waits until each is healthy, stops them in reverse."""

    def __init__(self, services: list[Service]):
        self.services = services

    def start_all(self, timeout: float = 120.0, on_progress: Callable[[str], None] = print) -> None:
        for service in self.services:
            on_progress(f"starting {service.name} ...")
            service.start()
        deadline = time.monotonic() + timeout
        pending = list(self.services)
        while pending:
            for service in list(pending):
                if not service.running:
                    raise ServiceFailed(f"{service.name} exited (code {service.process.returncode}); "
                                        f"last log lines:\n{service.tail()}")
                if _safe(service.is_healthy):
                    on_progress(f"{service.name} is healthy")
                    pending.remove(service)
            if pending and time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                raise ServiceFailed(f"not healthy after {timeout:.0f}s: {names}; last log lines of "
                                    f"{pending[0].name}:\n{pending[0].tail()}")
            time.sleep(0.5)

    def stop_all(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def first_dead(self) -> Service | None:
        return next((s for s in self.services if not s.running), None)


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        return False
