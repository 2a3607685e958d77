"""How long the README's run command takes on a fresh clone, on the next start, after a crash, and to stop.

    .venv/bin/python bench/bench_startup.py [--runs 1] [--kill airflow-scheduler]

Each run makes a fresh ``git clone`` of the committed tree and types
``./autopr run`` in it, as a newcomer would (only the ports are moved to free
ones), then measures:

- first run to all-healthy, set-up included (virtualenv from the lock, editor build);
- a service killed with ``kill -9`` until the supervisor has it back and healthy;
- Ctrl-C until the run command has exited, and whether anything is left running;
- a second ``./autopr run`` on the same state directory to all-healthy, and its stop.

The clone (with its virtualenv) is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.cli_platform import CliRun, fresh_clone, newcomer_env  # noqa: E402


def one_run(kill: str) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="autopr-bench-startup-"))
    clone = fresh_clone(REPO_ROOT, work / "autopr")
    env = newcomer_env()
    first, second = CliRun(clone, env, work / "first.log"), CliRun(clone, env, work / "second.log")
    result: dict[str, object] = {}
    try:
        print("  first ./autopr run on a fresh clone ...", flush=True)
        first.start()
        result["first_healthy_s"] = first.wait_healthy(timeout=900)
        print(f"  killing {kill} with SIGKILL ...", flush=True)
        pid = first.services()[kill]["pid"]
        os.kill(pid, signal.SIGKILL)
        result["restart_healthy_s"] = first.wait_restarted(kill, pid, timeout=300)
        result["first_stop_s"] = first.stop()
        result["first_left_running"] = first.leftovers()
        print("  second ./autopr run on the same state directory ...", flush=True)
        second.start()
        result["second_healthy_s"] = second.wait_healthy(timeout=300)
        result["second_stop_s"] = second.stop()
        result["second_left_running"] = second.leftovers()
    finally:
        first.kill_everything()
        second.kill_everything()
        shutil.rmtree(work, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--kill", default="airflow-scheduler", help="the service to kill -9 (a role name)")
    args = parser.parse_args()
    for i in range(args.runs):
        print(f"run {i + 1} of {args.runs}", flush=True)
        r = one_run(args.kill)
        print(f"run {i + 1}: first run (fresh clone, set-up included) all healthy in {r['first_healthy_s']:.1f} s; "
              f"{args.kill} killed -9 back and healthy in {r['restart_healthy_s']:.1f} s; "
              f"stopped in {r['first_stop_s']:.1f} s, left running: {r['first_left_running'] or 'nothing'}", flush=True)
        print(f"run {i + 1}: second run all healthy in {r['second_healthy_s']:.1f} s (target 60 s); "
              f"stopped in {r['second_stop_s']:.1f} s, left running: {r['second_left_running'] or 'nothing'}",
              flush=True)


if __name__ == "__main__":
    main()
