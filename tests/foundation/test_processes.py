"""The supervisor stops a service and everything it spawned, restarts one that dies, and says when it gives up."""

from __future__ import annotations

import os
import sys
import time

import signal

import pytest

from include.launcher.processes import RestartPolicy, Service, ServiceFailed, Supervisor, _group_alive

FAST = RestartPolicy(max_restarts=2, window_seconds=60, first_backoff_seconds=0.1, max_backoff_seconds=0.2)


def test_stop_all_leaves_nothing_running(tmp_path):
    # A parent that spawns children, like `airflow standalone` does, and ignores SIGTERM in one child.
    script = tmp_path / "tree.sh"
    script.write_text("#!/bin/bash\nsleep 300 &\n(trap '' TERM; sleep 300) &\nwait\n")
    script.chmod(0o755)
    service = Service("tree", [str(script)], dict(os.environ), tmp_path / "tree.log", is_healthy=lambda s: True)
    supervisor = Supervisor([service])
    supervisor.start_all(timeout=10, on_progress=lambda m: None)
    time.sleep(0.5)
    pgid = service.process.pid
    assert _group_alive(pgid)
    started = time.monotonic()
    service.stop(grace_seconds=2)
    assert not _group_alive(pgid)
    assert time.monotonic() - started < 10


def test_a_service_that_keeps_dying_is_named_with_its_log(tmp_path):
    service = Service("bad", [sys.executable, "-c", "print('boom'); raise SystemExit(3)"], dict(os.environ),
                      tmp_path / "bad.log", is_healthy=lambda s: False)
    supervisor = Supervisor([service], policy=FAST)
    messages: list[str] = []
    try:
        with pytest.raises(ServiceFailed) as err:
            supervisor.start_all(timeout=30, on_progress=messages.append)
    finally:
        supervisor.stop_all()
    text = str(err.value)
    assert "bad exited (exit code 3)" in text and "giving up" in text and "boom" in text
    assert sum("restarting in" in m for m in messages) == 2  # restarted up to the limit before giving up


def _sleeper(tmp_path, name: str) -> Service:
    # A leader with a child that holds on, like the scheduler and its executor workers.
    script = tmp_path / f"{name}.sh"
    script.write_text("#!/bin/bash\necho started $$\nsleep 300 &\nwait\n")
    script.chmod(0o755)
    return Service(name, [str(script)], dict(os.environ), tmp_path / f"{name}.log", is_healthy=lambda s: s.running)


def test_a_killed_service_is_restarted_and_its_group_cleared(tmp_path):
    service = _sleeper(tmp_path, "worker")
    status = tmp_path / "run" / "services.json"
    supervisor = Supervisor([service], policy=FAST, status_file=status)
    messages: list[str] = []
    try:
        supervisor.start_all(timeout=10, on_progress=messages.append)
        old_pid = service.process.pid
        assert str(old_pid) in status.read_text()
        os.kill(old_pid, signal.SIGKILL)  # the leader dies; its child lives on in the group
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (service.running and service.healthy
                                                    and service.process.pid != old_pid):
            supervisor.tick(messages.append)
            time.sleep(0.05)
        assert service.running and service.process.pid != old_pid
        assert not _group_alive(old_pid), "the dead leader's child was left running"
        assert str(service.process.pid) in status.read_text()
        assert any("worker exited (killed by SIGKILL); restarting" in m for m in messages), messages
        assert any("worker is healthy" in m for m in messages[-2:]), messages
    finally:
        supervisor.stop_all()
    assert not _group_alive(service.process.pid)


def test_restarts_back_off_exponentially_up_to_a_cap():
    policy = RestartPolicy(max_restarts=5, window_seconds=600, first_backoff_seconds=1, max_backoff_seconds=30)
    assert [policy.backoff(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
