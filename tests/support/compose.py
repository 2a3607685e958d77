"""Run ``docker-compose.yaml``'s platform services on this host, as the file defines them.

Docker cannot run here, so the compose file is proved the other way round: each
service's own ``command`` is started with its own ``environment`` (anchors,
merges and ``${VAR:-default}`` resolved as compose does), and probed with its
own ``healthcheck``.  Only what a single host forces is changed:

- service names in values (``postgres``, ``redis``, ``airflow-apiserver``, ...) become 127.0.0.1;
- every exposed container port becomes a free host port, and so do the ports
  the Airflow components bind that compose leaves per container;
- databases get names of their own for this run, and Redis a database number;
- container paths (``/opt/airflow/...``) become folders under one run directory:
  shared where compose mounts a shared volume, private per service otherwise;
- bind addresses ``0.0.0.0`` become 127.0.0.1.

The third-party images (PostgreSQL, Redis, the nginx proxy) are the machine's
own services instead.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from include.launcher.processes import RestartPolicy, Service, Supervisor
from tests.support.ports import free_port
from tests.support.waiting import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
CONTAINER_ROOT = "/opt/airflow/"
THIRD_PARTY_IMAGES = ("postgres:", "redis:", "nginx:")
PORT_SETTINGS = ("AUTOPR_AIRFLOW_PORT", "AUTOPR_DASHBOARD_PORT", "AUTOPR_MLFLOW_PORT")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")



def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``."""

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if op in (":-", "-"):
            unset = current is None or (op == ":-" and current == "")
            return arg if unset else current
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise ValueError(f"compose: {name} is required: {arg}")
            return current
        return current or ""

    return _VAR.sub(one, value)


def _seconds(text: str | None, default: float) -> float:
    if not text:
        return default
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", str(text))
    if not match:
        return default
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number / 1000 if unit == "ms" else number * (60 if unit == "m" else 1)


@dataclass
class ComposeService:
    name: str
    command: list[str]
    environment: dict[str, str]
    healthcheck: list[str]
    health_interval: float
    expose: list[int]
    volumes: list[str]
    depends_on: list[str]


def load_services(env: dict[str, str], path: Path = COMPOSE_FILE) -> dict[str, ComposeService]:
    """The platform's services as compose would run them (third-party images left out)."""
    compose = yaml.safe_load(path.read_text())  # PyYAML resolves anchors and << merge keys like compose
    services: dict[str, ComposeService] = {}
    for name, spec in compose["services"].items():
        if str(spec.get("image", "")).startswith(THIRD_PARTY_IMAGES):
            continue
        environment = {k: interpolate(str(v), env) for k, v in (spec.get("environment") or {}).items()}
        check = spec.get("healthcheck") or {}
        test = check.get("test") or []
        services[name] = ComposeService(
            name=name,
            command=[interpolate(str(part), env) for part in spec["command"]],
            environment=environment,
            healthcheck=[str(part) for part in test[1:]] if test[:1] == ["CMD"] else [],
            health_interval=_seconds(check.get("interval"), 30.0),
            expose=[int(str(p).split("/")[0]) for p in spec.get("expose") or []],
            volumes=[str(v) for v in spec.get("volumes") or []],
            depends_on=list(spec.get("depends_on") or []),
        )
    return services


@dataclass
class OneHost:
    """How compose's many-host values map onto this one host for one run."""

    run_dir: Path
    databases: dict[str, str]  # compose database name -> this run's database name
    redis_db: int
    ports: dict[tuple[str, int], int] = field(default_factory=dict)

    def port(self, service: str, container_port: int) -> int:
        key = (service, container_port)
        if key not in self.ports:
            self.ports[key] = free_port()
        return self.ports[key]

    def path(self, service: ComposeService, container_path: str) -> str:
        for volume in service.volumes:
            source, _, target = volume.partition(":")
            target = target.split(":")[0]
            if container_path == target or container_path.startswith(target + "/"):
                shared = self.run_dir / "volumes" / source.strip("./").replace("/", "_")
                return str(shared / container_path[len(target):].lstrip("/"))
        return str(self.run_dir / "containers" / service.name / container_path[len(CONTAINER_ROOT):])

    def value(self, service: ComposeService, key: str, value: str, services: dict[str, ComposeService]) -> str:
        if value in ("0.0.0.0", "::"):  # noqa: S104 - compose binds all interfaces inside a container
            return "127.0.0.1"
        if key in PORT_SETTINGS and value.isdigit() and int(value) in service.expose:
            return str(self.port(service.name, int(value)))
        if value.startswith(CONTAINER_ROOT):
            return self.path(service, value)
        if value.startswith("file://" + CONTAINER_ROOT):
            return "file://" + self.path(service, value.removeprefix("file://"))
        if "://" in value:
            return self.url(value, services)
        return self.host_list(value, services)

    def host_list(self, value: str, services: dict[str, ComposeService]) -> str:
        """``name[:port],...`` naming compose services (e.g. MLflow's allowed hosts) as this host's addresses."""
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        hosts = [entry.partition(":")[0] for entry in entries]
        if not entries or not any(h in services for h in hosts) or not all(h in services or h == "localhost"
                                                                             for h in hosts):
            return value
        mapped = []
        for entry in entries:
            name, _, port = entry.partition(":")
            if name in services and port.isdigit():
                mapped.append(f"127.0.0.1:{self.port(name, int(port))}")
            elif name in services:
                mapped.append("127.0.0.1")
            else:
                mapped.append(entry)
        return ",".join(mapped)

    def url(self, value: str, services: dict[str, ComposeService]) -> str:
        if value.startswith(("postgresql", "db+postgresql")):
            prefix = "db+" if value.startswith("db+") else ""
            url = make_url(value.removeprefix("db+"))
            url = url.set(host="127.0.0.1", port=5432, username="postgres", password=None,
                          database=self.databases[url.database])
            return prefix + url.render_as_string(hide_password=False)
        if value.startswith("redis://redis:"):
            return f"redis://127.0.0.1:6379/{self.redis_db}"
        match = re.match(r"(https?)://([a-z0-9-]+):(\d+)(.*)", value)
        if match and match.group(2) in services:
            return f"{match.group(1)}://127.0.0.1:{self.port(match.group(2), int(match.group(3)))}{match.group(4)}"
        return value

    def environment(self, service: ComposeService, services: dict[str, ComposeService],
                    base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        for key, value in service.environment.items():
            env[key] = self.value(service, key, value, services)
        # One host: the ports each container binds privately (log servers, scheduler health) must differ.
        env["AUTOPR_AIRFLOW_LOG_SERVER_PORTS"] = ",".join(str(free_port()) for _ in range(3))
        env.setdefault("AUTOPR_STATE_DIR", str(self.run_dir / "containers" / service.name / "state"))
        return env


def _command(argv: list[str]) -> list[str]:
    return [sys.executable, *argv[1:]] if argv and argv[0] == "python" else argv


def _health(service: ComposeService, env: dict[str, str]):
    """The service's compose healthcheck, run at most once per interval while healthy (every 2 s until then)."""
    state = {"at": 0.0, "ok": False}

    def check(_svc: Service) -> bool:
        now = time.monotonic()
        if state["ok"] and now - state["at"] < service.health_interval:
            return True
        if not state["ok"] and now - state["at"] < 2.0:
            return False
        state["at"] = now
        result = subprocess.run(_command(service.healthcheck), env=env, cwd=REPO_ROOT, capture_output=True,
                                timeout=60, check=False)
        state["ok"] = result.returncode == 0
        return state["ok"]

    return check


@dataclass
class Cluster:
    services: dict[str, ComposeService]
    environments: dict[str, dict[str, str]]
    supervisor: Supervisor
    host: OneHost
    started_in: float = 0.0  # seconds from start_cluster to all healthy

    def env(self, name: str) -> dict[str, str]:
        return self.environments[name]

    def url(self, name: str, container_port: int) -> str:
        return f"http://127.0.0.1:{self.host.port(name, container_port)}"

    def log(self, name: str) -> str:
        service = next(s for s in self.supervisor.services if s.name == name)
        return service.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.supervisor.stop_all()


def start_cluster(host: OneHost, secrets: dict[str, str], base_env: dict[str, str], timeout: float = 600,
                  only: list[str] | None = None) -> Cluster:
    """Run the one-shot init to completion, then every long-running service until all are healthy."""
    services = load_services(secrets)
    environments = {name: host.environment(svc, services, base_env) for name, svc in services.items()}
    logs = host.run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for one_shot in [n for n, s in services.items() if not s.healthcheck]:
        with open(logs / f"{one_shot}.log", "wb") as out:
            result = subprocess.run(_command(services[one_shot].command), env=environments[one_shot], cwd=REPO_ROOT,
                                    stdout=out, stderr=subprocess.STDOUT, timeout=900, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{one_shot} failed ({result.returncode}):\n{(logs / f'{one_shot}.log').read_text()}")
    names = [n for n, s in services.items() if s.healthcheck and (only is None or n in only)]
    supervisor = Supervisor(
        [Service(n, _command(services[n].command), environments[n], logs / f"{n}.log",
                 is_healthy=_health(services[n], environments[n]), cwd=REPO_ROOT) for n in names],
        policy=RestartPolicy(max_restarts=2, window_seconds=600),
    )
    try:
        supervisor.start_all(timeout=timeout, on_progress=lambda m: None)
    except BaseException:
        supervisor.stop_all()
        raise
    return Cluster(services, environments, supervisor, host)


class ClusterApi:
    """Airflow's REST API and the platform API of a cluster's API server, as the admin.

    It answers to what tests of a running platform use (``airflow_url``, ``token``, ``api``, ``wait_for_dag``,
    ``settings``; see tests/support/stack.py), so a test written for one runs against the other.
    """

    def __init__(self, cluster: Cluster, admin_password: str):
        self.cluster = cluster
        self.airflow_url = self.base = cluster.url("airflow-apiserver", 8080)
        self.password = admin_password
        self.client = self.api()

    def token(self, username: str = "admin", password: str | None = None) -> str:
        resp = httpx.post(f"{self.airflow_url}/auth/token", timeout=30,
                          json={"username": username, "password": password or self.password})
        resp.raise_for_status()
        return resp.json()["access_token"]

    def api(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.airflow_url, timeout=60,
                            headers={"Authorization": f"Bearer {token or self.token()}"})

    @property
    def settings(self):
        """Settings that verify this cluster's tokens (its JWT secret, audience and issuer)."""
        from include.settings import load_settings

        env = self.cluster.env("airflow-apiserver")
        return load_settings(jwt_secret=env["AUTOPR_JWT_SECRET"], state_dir=self.cluster.host.run_dir / "verify")

    def wait_for_dag(self, dag_id: str, timeout: float = 60) -> dict:
        return self.wait(lambda: (r := self.client.get(f"/api/v2/dags/{dag_id}")).status_code == 200 and r.json(),
                         timeout, f"{dag_id} parsed")

    @staticmethod
    def wait(predicate, timeout: float, what: str, every: float = 2.0):
        return wait_for(predicate, timeout, what, every)

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()["state"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        items = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
        return {ti["task_id"]: ti["state"] for ti in items}

    def use_github(self, github) -> None:
        """Point the ``github_default`` connection at a GitHub stand-in."""
        conn = {"connection_id": "github_default", "conn_type": "github", "host": github.url,
                "password": github.token,
                "extra": '{"seconds_between_writes": 0, "seconds_between_requests": 0, "retries": 0}'}
        self.client.patch("/api/v2/connections/github_default", json=conn).raise_for_status()

    def workflow_from_template(self, name: str, project: str, workflow_id: str) -> str:
        """Instantiate a built-in template; returns its DAG id once Airflow has parsed it."""
        template = next(t for t in self.client.get("/autopr/api/v1/templates").json() if t["name"] == name)
        created = self.client.post(f"/autopr/api/v1/templates/{template['id']}/instantiate",
                                   json={"project": project, "id": workflow_id})
        assert created.status_code == 201, created.text
        dag_id = created.json()["dag_id"]
        # instantiated workflows start disabled (no DAG) until someone enables them, as a user would here
        enabled = self.client.put(f"/autopr/api/v1/projects/{project}/workflows/{workflow_id}",
                                  json={**created.json()["spec"], "enabled": True},
                                  headers={"If-Match": created.headers["ETag"]})
        assert enabled.status_code == 200, enabled.text
        self.wait(lambda: self.client.get(f"/api/v2/dags/{dag_id}").status_code == 200, 180, f"{dag_id} parsed")
        return dag_id

    def review_workflow(self, github, repo, project: str = "demo", workflow_id: str = "bqc") -> tuple[str, dict]:
        """Basic Quality Check reviewing pull request 7 of ``acme/app`` (a real local repository with findings)
        on a GitHub stand-in; returns its DAG id and the pull-request event to start runs with.  The pull request
        lists the repository's changed files, so the review's comments land on its lines as on GitHub."""
        github.add_repo("acme/app")
        github.add_pull("acme/app", 7, repo.bad_sha)
        github.push("acme/app", 7, repo.bad_sha, repo.pull_files())
        self.use_github(github)
        dag_id = self.workflow_from_template("Basic Quality Check", project, workflow_id)
        event = {"kind": "pr_opened", "repository": "acme/app", "clone_url": repo.url, "sha": repo.bad_sha,
                 "ref": "feature", "base_ref": "main", "pr_number": 7, "author": "octocat"}
        return dag_id, event

    def start_runs(self, project: str, workflow_id: str, event: dict, count: int) -> list[str]:
        run_ids = []
        for _ in range(count):
            resp = self.client.post(f"/autopr/api/v1/projects/{project}/workflows/{workflow_id}/runs",
                                    json={"event": event})
            assert resp.status_code == 201, resp.text
            run_ids.append(resp.json()["run_id"])
        return run_ids

    def wait_finished(self, dag_id: str, run_ids: list[str], timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        for run_id in run_ids:
            self.wait(lambda r=run_id: self.run_state(dag_id, r) in ("success", "failed"),
                      max(1.0, deadline - time.monotonic()), f"run {run_id}")
            states[run_id] = self.run_state(dag_id, run_id)
        return states


def executed_on(cluster: Cluster, worker: str) -> int:
    """Task workloads a Celery worker executed, as its own log records them."""
    return cluster.log(worker).count("Executing workload in Celery")


PG_ADMIN_URL = os.environ.get("AUTOPR_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def new_secrets() -> dict[str, str]:
    """What deploy/env.example asks a deployment for, freshly generated."""
    from cryptography.fernet import Fernet

    return {"AUTOPR_JWT_SECRET": secrets.token_urlsafe(48), "AUTOPR_ADMIN_PASSWORD": secrets.token_urlsafe(12),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(16)}


def _admin_sql(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


@contextmanager
def fresh_cluster(redis_db: int, env_secrets: dict[str, str], only: list[str] | None = None,
                  timeout: float = 600, keep: bool = False) -> Iterator[Cluster]:
    """A cluster on databases of its own and a flushed Redis database, all removed afterwards.

    ``keep`` leaves the run directory (logs, state) to look at after a failure.
    """
    run_dir = Path(tempfile.mkdtemp(prefix="autopr-compose-"))
    suffix = uuid.uuid4().hex[:8]
    databases = {name: f"autopr_cc_{suffix}_{name}" for name in ("autopr", "airflow", "mlflow")}
    for name in databases.values():
        _admin_sql(f'CREATE DATABASE "{name}"')
    broker = redis.Redis(host="127.0.0.1", port=6379, db=redis_db)
    broker.flushdb()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOPR_", "AIRFLOW", "MLFLOW_"))}
    cluster = None
    try:
        started = time.monotonic()
        cluster = start_cluster(OneHost(run_dir, databases, redis_db), env_secrets, base_env, timeout, only)
        cluster.started_in = time.monotonic() - started
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop()
        broker.flushdb()
        for name in databases.values():
            _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not keep:
            remove(run_dir)


def remove(run_dir: Path) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)
