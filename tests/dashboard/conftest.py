"""Fixtures for the dashboard sidecar: the real server in a subprocess, real Socket.IO clients.

The sidecar is started exactly as the run command starts it (``python -m
dashboard_server``), configured only through ``AUTOPR_*`` variables, on a
free port, against this test session's PostgreSQL database.  Tests publish
events the way the Airflow listener does: ``get_outbox(settings).put(event)``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import socketio

from tests.conftest import REPO_ROOT
from tests.support.ports import free_port

TEST_SECRET = "dashboard-tests-" + uuid.uuid4().hex + uuid.uuid4().hex


@dataclass
class Sidecar:
    """A ``python -m dashboard_server`` process and the settings it runs with."""

    env: dict
    port: int
    log_path: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self):
        from include.settings import load_settings

        return load_settings(
            state_dir=self.env["AUTOPR_STATE_DIR"],
            database_url=self.env["AUTOPR_DATABASE_URL"],
            redis_url=self.env.get("AUTOPR_REDIS_URL") or None,
            events_stream=self.env["AUTOPR_EVENTS_STREAM"],
            jwt_secret=TEST_SECRET,
            dashboard_port=self.port,
        )

    def start(self, timeout: float = 90.0) -> Sidecar:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dashboard_server"], cwd=REPO_ROOT, env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sidecar exited ({self.proc.returncode}):\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"sidecar not healthy in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def put(self, event) -> None:
        from include.events.outbox import get_outbox

        get_outbox(self.settings).put(event)


def make_sidecar(pg_url: str, *, redis_url: str | None = None, port: int | None = None, **extra: str) -> Sidecar:
    port = port or free_port()
    state = Path(tempfile.mkdtemp(prefix="autopr-dash-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPR_")}
    env.update(
        AUTOPR_STATE_DIR=str(state),
        AUTOPR_DATABASE_URL=pg_url,
        AUTOPR_JWT_SECRET=TEST_SECRET,
        AUTOPR_DASHBOARD_PORT=str(port),
        AUTOPR_DASHBOARD_HOST="127.0.0.1",
        AUTOPR_EVENTS_STREAM=f"autopr-test:{uuid.uuid4().hex[:10]}",
        AUTOPR_DASHBOARD_ALLOWED_ORIGINS=f"http://127.0.0.1:{port},http://localhost:{port}",
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["AUTOPR_REDIS_URL"] = redis_url
    env.update({k: str(v) for k, v in extra.items()})
    return Sidecar(env=env, port=port, log_path=state / "sidecar.log")


@pytest.fixture(scope="session")
def sidecar(pg_url):
    """One embedded-mode sidecar (no Redis) shared by the dashboard tests (each uses its own projects)."""
    side = make_sidecar(pg_url).start()
    yield side
    side.stop()


def add_member(pg_url: str, project: str, username: str, role: str = "viewer") -> None:
    from sqlalchemy import select

    from include.db.models import Project, ProjectMember
    from include.db.session import session_scope
    from include.enums import Role

    with session_scope(pg_url) as session:
        proj = session.scalar(select(Project).where(Project.slug == project))
        if proj is None:
            proj = Project(slug=project, name=project)
            session.add(proj)
            session.flush()
        session.add(ProjectMember(project_id=proj.id, username=username, role=Role(role)))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def task_event(project: str, n: int, state: str = "success", **over):
    from include.events.schema import StateEvent

    values = {
        "event_type": "task_instance",
        "project": project,
        "dag_id": over.pop("dag_id", "demo_dag"),
        "run_id": over.pop("run_id", f"manual__{project}"),  # event keys are global: keep runs apart
        "task_id": over.pop("task_id", f"task_{n}"),
        "try_number": 1,
        "state": state,
        "occurred_at": datetime.now(UTC),
    }
    values.update(over)
    return StateEvent(**values)


@dataclass
class Watcher:
    """A real ``socketio.AsyncClient`` that records what it receives and resumes from its last id."""

    url: str
    token: str
    last_event_id: int | None = None
    events: list = field(default_factory=list)
    received: dict = field(default_factory=lambda: defaultdict(list))
    projects: list = field(default_factory=list)
    headers: dict = field(default_factory=dict)
    client: socketio.AsyncClient | None = None

    def _auth(self):
        return {"token": self.token, "last_event_id": self.last_event_id}

    async def connect(self, reconnection: bool = False, **kw) -> Watcher:
        self.client = socketio.AsyncClient(
            reconnection=reconnection, reconnection_delay=0.2, reconnection_delay_max=1.0, randomization_factor=0.2
        )

        @self.client.on("event")
        async def on_event(data):
            self.events.append(data)
            if self.last_event_id is None or data["id"] > self.last_event_id:
                self.last_event_id = data["id"]

        @self.client.on("connect")
        async def on_connect():
            for project in self.projects:
                await self.client.emit("join", {"project": project})

        for name in ("notification", "presence", "error", "connect_error"):
            self.client.on(name, self._recorder(name))
        try:
            await self.client.connect(
                self.url, auth=self._auth, transports=["websocket"], headers=self.headers, wait_timeout=10, **kw
            )
        except socketio.exceptions.ConnectionError as exc:
            raise socketio.exceptions.ConnectionError(f"{exc}: {self.received['connect_error']}") from exc
        return self

    def _recorder(self, name: str):
        def record(data):
            self.received[name].append(data)

        return record

    async def join(self, project: str, **extra) -> dict:
        self.projects.append(project)
        return await self.client.call("join", {"project": project, **extra}, timeout=20)

    async def wait_for(self, predicate, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; got {len(self.events)} events, received={dict(self.received)}")
            await asyncio.sleep(0.02)

    @property
    def ids(self) -> list[int]:
        return [e["id"] for e in self.events]

    async def close(self) -> None:
        if self.client is not None:
            await self.client.disconnect()


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def parsed_workflow(api: httpx.AsyncClient, airflow: httpx.AsyncClient, project: str, workflow: str) -> str:
    """A new project with one small workflow saved through the platform API; its dag_id once Airflow parsed it.

    ``api`` is the platform API (``<airflow>/autopr``), ``airflow`` Airflow's own REST API, both authenticated.
    """
    from tests.api.conftest import workflow_doc

    assert (await api.post("/api/v1/projects", json={"slug": project, "name": project})).status_code == 201
    saved = await api.post(f"/api/v1/projects/{project}/workflows", json=workflow_doc(workflow, project))
    assert saved.status_code == 201, saved.text
    dag_id = saved.json()["dag_id"]
    deadline = time.monotonic() + 120
    while (await airflow.get(f"/api/v2/dags/{dag_id}")).status_code != 200:
        assert time.monotonic() < deadline, f"{dag_id} never parsed"
        await asyncio.sleep(1)
    return dag_id
