"""The README's run command as a newcomer meets it, and as they meet it again the next day.

A fresh ``git clone``, ``./autopr run`` exactly as written (set-up included,
the default state directory inside the clone; only the ports are moved to free
ones), until Airflow, the dashboard and MLflow are all healthy; two services
killed with ``kill -9`` come back while the platform keeps running; a
connection is changed through Airflow's REST API as a user would in the UI;
Ctrl-C leaves nothing running; a second ``./autopr run`` on the same state
directory is healthy again and still has the user's connection.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import httpx
import pytest

from tests.support.cli_platform import CliRun, fresh_clone, newcomer_env

pytestmark = pytest.mark.integration

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
USER_CONNECTION = {"host": "https://ghe.example.com/api/v3", "password": "ghp_user_token",
                   "extra": '{"verify": false}'}


def _token(run: CliRun) -> str:
    password = (run.state_dir / "admin_password").read_text().strip()
    resp = httpx.post(f"{run.airflow_url}/auth/token", json={"username": "admin", "password": password}, timeout=10)
    resp.raise_for_status()
    return resp.json()["access_token"]


def _connection(run: CliRun) -> dict:
    resp = httpx.get(f"{run.airflow_url}/api/v2/connections/github_default",
                     headers={"Authorization": f"Bearer {_token(run)}"}, timeout=10)
    resp.raise_for_status()
    return resp.json()


def _kill_and_wait(run: CliRun, name: str) -> None:
    pid = run.services()[name]["pid"]
    os.kill(pid, signal.SIGKILL)
    run.wait_restarted(name, pid, timeout=180)
    assert run.process.poll() is None, "the platform stopped when one service died"


def test_fresh_clone_run_kill_stop_and_run_again(tmp_path):
    clone = fresh_clone(REPO_ROOT, tmp_path / "autopr")
    env = newcomer_env()
    first = CliRun(clone, env, tmp_path / "first-run.log")
    second = CliRun(clone, env, tmp_path / "second-run.log")
    try:
        first.start()
        first.wait_healthy(timeout=900)  # includes creating .venv and building the editor
        output = first.output()
        assert first.airflow_url in output and first.dashboard_url in output and first.mlflow_url in output
        assert "login" in output and (clone / ".autopr" / "admin_password").read_text().strip() in output
        assert (clone / ".autopr" / "autopr.db").is_file(), "the default app database lives in the clone's state dir"

        _kill_and_wait(first, "dashboard")
        _kill_and_wait(first, "airflow-scheduler")
        assert first.all_healthy()

        seeded = _connection(first)
        assert seeded["host"] == "https://api.github.com" and not seeded["password"], seeded
        resp = httpx.patch(f"{first.airflow_url}/api/v2/connections/github_default",
                           headers={"Authorization": f"Bearer {_token(first)}"}, timeout=10,
                           json={"connection_id": "github_default", "conn_type": "github", **USER_CONNECTION})
        assert resp.status_code == 200, resp.text

        first.stop()
        assert first.process.returncode == 0, first.output()[-3000:]
        assert not first.leftovers(), f"still running after Ctrl-C: {first.leftovers()}"

        second.pgids = set()
        second.start()
        second.wait_healthy(timeout=300)
        kept = _connection(second)
        assert kept["host"] == USER_CONNECTION["host"] and kept["extra"] == USER_CONNECTION["extra"], kept
        assert kept["password"], "the user's token was replaced by the file's empty placeholder"
        assert "kept" in second.output()
        second.stop()
        assert second.process.returncode == 0, second.output()[-3000:]
        assert not second.leftovers(), f"still running after Ctrl-C: {second.leftovers()}"
    finally:
        first.kill_everything()
        second.kill_everything()
        subprocess.run(["rm", "-rf", str(clone / ".venv"), str(clone / "editor" / "node_modules")], check=False)
        shutil.rmtree(clone, ignore_errors=True)
