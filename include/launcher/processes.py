"""A small process supervisor: start services, keep them running, stop them all.

Each service runs in a new session, so stopping it also stops everything it
spawned (the scheduler's executor workers, its log server): SIGTERM to the
group, a grace period, then SIGKILL.  Output goes to one log file per service.

A service that exits on its own is started again after a growing pause, the
way systemd's ``Restart=on-failure`` or Kubernetes' ``CrashLoopBackOff`` would
do it; only when it keeps dying does the supervisor give up, and then it names
the service and shows the end of its log.  Before a restart whatever the dead
leader left behind in its process group is stopped, so a port it held is free.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RestartPolicy:
    """How often a service that exits is started again before the supervisor gives up."""

    max_restarts: int = 5
    window_seconds: float = 600.0
    first_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0

    def backoff(self, recent_restarts: int) -> float:
        return min(self.max_backoff_seconds, self.first_backoff_seconds * 2 ** recent_restarts)


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    is_healthy: Callable[[Service], bool]
    url: str = ""
    cwd: Path | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)
    started_at: float = 0.0  # wall-clock time of the latest start (health checks compare heartbeats with it)
    healthy: bool = False
    restart_times: deque = field(default_factory=deque, repr=False)
    restart_due: float | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.started_at = time.time()
        self.healthy = False
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_health(self) -> bool:
        try:
            return bool(self.is_healthy(self))
        except Exception:
            return False

    def stop(self, grace_seconds: float = 20.0) -> None:
        stop_together([self], grace_seconds)

    def signal_group(self, sig: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, sig)  # start_new_session: the group id is the leader's pid
        except ProcessLookupError:
            pass

    @property
    def group_alive(self) -> bool:
        if self.process is None:
            return False
        self.process.poll()
        return _group_alive(self.process.pid)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def stop_together(services: list[Service], grace_seconds: float = 20.0) -> None:
    """SIGTERM every service's process group at once, wait for all, then SIGKILL what is left.

    Signalling all first makes a stop as long as the slowest service's shutdown, not the sum of them.
    """
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0)):
        alive = [s for s in services if s.group_alive]
        if not alive:
            return
        for service in alive:
            service.signal_group(sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(s.group_alive for s in alive):
            time.sleep(0.2)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


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
    """Starts services, waits until each is healthy, restarts those that exit, stops them in reverse.

    ``status_file`` (optional) always holds each service's pid, start time and
    log path, so operators and tests can find a process without ``ps``.
    """

    def __init__(self, services: list[Service], policy: RestartPolicy = RestartPolicy(),
                 status_file: Path | None = None):
        self.services = services
        self.policy = policy
        self.status_file = status_file

    def start_all(self, timeout: float = 120.0, on_progress: Progress = print) -> None:
        for service in self.services:
            on_progress(f"starting {service.name} ...")
            service.start()
        self._write_status()
        deadline = time.monotonic() + timeout
        while True:
            self.tick(on_progress)
            pending = [s for s in self.services if not s.healthy]
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                raise ServiceFailed(f"not healthy after {timeout:.0f}s: {names}; last log lines of "
                                    f"{pending[0].name} ({pending[0].log_path}):\n{pending[0].tail()}")
            time.sleep(0.5)

    def watch(self, on_progress: Progress = print, interval: float = 1.0,
              should_stop: Callable[[], bool] = lambda: False) -> None:
        """Keep every service running until ``should_stop``; raises ServiceFailed when one keeps dying."""
        while not should_stop():
            self.tick(on_progress)
            time.sleep(interval)

    def tick(self, on_progress: Progress = print) -> None:
        """One look at every service: restart the dead (with back-off), report health changes."""
        now = time.monotonic()
        for service in self.services:
            if service.restart_due is not None:
                if now >= service.restart_due:
                    service.restart_due = None
                    service.stop(grace_seconds=5)  # whatever the dead leader left in its group
                    service.start()
                    self._write_status()
                    on_progress(f"{service.name} restarted (pid {service.process.pid})")
                continue
            if not service.running:
                self._schedule_restart(service, now, on_progress)
                continue
            healthy = service.check_health()
            if healthy != service.healthy:
                service.healthy = healthy
                on_progress(f"{service.name} is {'healthy' if healthy else 'unhealthy'}")

    def _schedule_restart(self, service: Service, now: float, on_progress: Progress) -> None:
        recent = service.restart_times
        while recent and now - recent[0] > self.policy.window_seconds:
            recent.popleft()
        how = describe_exit(service.process.returncode if service.process else None)
        if len(recent) >= self.policy.max_restarts:
            raise ServiceFailed(
                f"{service.name} exited ({how}) and was restarted {len(recent)} times within "
                f"{self.policy.window_seconds / 60:.0f} min; giving up. Last log lines ({service.log_path}):\n"
                f"{service.tail()}")
        pause = self.policy.backoff(len(recent))
        recent.append(now)
        service.healthy = False
        service.restart_due = now + pause
        on_progress(f"{service.name} exited ({how}); restarting in {pause:.0f}s "
                    f"(restart {len(recent)} of at most {self.policy.max_restarts}); log: {service.log_path}")

    def stop_all(self, grace_seconds: float = 20.0) -> None:
        for service in self.services:
            service.restart_due = None
        stop_together(list(reversed(self.services)), grace_seconds)
        self._write_status()

    def _write_status(self) -> None:
        if self.status_file is None:
            return
        status = {s.name: {"pid": s.process.pid if s.running else None, "started_at": s.started_at,
                           "log": str(s.log_path), "url": s.url} for s in self.services}
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=2))
        tmp.replace(self.status_file)
