"""The supervisor stops a service and everything it spawned."""

from __future__ import annotations

import os
import sys
import time

from include.launcher.processes import Service, Supervisor, _group_alive


def test_stop_all_leaves_nothing_running(tmp_path):
    # A parent that spawns children, like `airflow standalone` does, and ignores SIGTERM in one child.
    script = tmp_path / "tree.sh"
    script.write_text("#!/bin/bash\nsleep 300 &\n(trap '' TERM; sleep 300) &\nwait\n")
    script.chmod(0o755)
    service = Service("tree", [str(script)], dict(os.environ), tmp_path / "tree.log", is_healthy=lambda: True)
    supervisor = Supervisor([service])
    supervisor.start_all(timeout=10, on_progress=lambda m: None)
    time.sleep(0.5)
    pgid = service.process.pid
    assert _group_alive(pgid)
    started = time.monotonic()
    service.stop(grace_seconds=2)
    assert not _group_alive(pgid)
    assert time.monotonic() - started < 10


def test_a_service_that_dies_is_reported_with_its_log(tmp_path):
    service = Service("bad", [sys.executable, "-c", "print('boom'); raise SystemExit(3)"], dict(os.environ),
                      tmp_path / "bad.log", is_healthy=lambda: False)
    supervisor = Supervisor([service])
    try:
        supervisor.start_all(timeout=10, on_progress=lambda m: None)
    except Exception as exc:
        assert "bad exited (code 3)" in str(exc) and "boom" in str(exc)
    else:
        raise AssertionError("expected ServiceFailed")
    finally:
        supervisor.stop_all()
