"""Fixtures for the event pipeline tests: isolated event settings, a private Redis, Airflow's metadata DB."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SESSION_PREFIX = f"autopr-test:{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def event_settings(monkeypatch, tmp_path, pg_url):
    """Settings for one test: own state dir, own stream name, embedded outbox unless a test adds Redis.

    Returns a function ``configure(redis_url=None, **env)`` that (re)builds and returns settings.
    """
    from include.events.outbox import reset_outboxes
    from include.settings import get_settings

    stream = f"{SESSION_PREFIX}:{uuid.uuid4().hex[:8]}"

    def configure(redis_url: str | None = None, **env: str):
        monkeypatch.setenv("AUTOPR_STATE_DIR", str(tmp_path / "state"))
        monkeypatch.setenv("AUTOPR_DATABASE_URL", pg_url)
        monkeypatch.setenv("AUTOPR_EVENTS_STREAM", stream)
        if redis_url:
            monkeypatch.setenv("AUTOPR_REDIS_URL", redis_url)
        else:
            monkeypatch.delenv("AUTOPR_REDIS_URL", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(f"AUTOPR_{key.upper()}", str(value))
        reset_outboxes()
        get_settings.cache_clear()
        return get_settings()

    yield configure
    reset_outboxes()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def redis_cleanup(redis_url):
    """Delete this session's streams from the shared Redis at the end."""
    yield
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{SESSION_PREFIX}:*"):
        client.delete(key)


class RedisServer:
    """A private redis-server on a free port that tests may stop and restart (never the shared one)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server binary not found (needed for the outage test)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_timeout=0.2).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture()
def private_redis(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()



@pytest.fixture()
def isolated_dags_folder(monkeypatch, tmp_path):
    """dag.test() re-parses its bundle's folder on every call: point it at an empty folder, not the repo's dags/."""
    import airflow.settings

    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setattr(airflow.settings, "DAGS_FOLDER", str(folder))
    return folder
