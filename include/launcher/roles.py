"""The platform's roles: one process each, defined once for ``./autopr run``, containers and tests.

A role is a command line plus a health check.  ``./autopr run`` starts every
role a single machine needs under the supervisor; a container runs exactly
one (``python -m include.launcher role scheduler``) and probes it with
``python -m include.launcher health scheduler``.  Airflow's components run as
separate processes (as in Airflow's official docker-compose file), not through
``airflow standalone``, so each one is supervised, restarted and checked on
its own.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from include.launcher import health
from include.launcher.airflow_env import airflow_env
from include.launcher.processes import Service
from include.settings import REPO_ROOT, Settings

BIN_DIR = Path(sys.executable).parent


def executable(name: str) -> str:
    """A console script of this environment: beside the interpreter in a virtualenv, else on PATH (the image)."""
    beside = BIN_DIR / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


@dataclass(frozen=True)
class Role:
    name: str
    argv: Callable[[Settings], list[str]]
    is_healthy: Callable[[Settings, float], bool]  # (settings, process start time) -> healthy
    url: Callable[[Settings], str] = lambda s: ""
    cwd: Callable[[Settings], Path | None] = lambda s: None
    env: Callable[[dict[str, str]], dict[str, str]] = lambda env: env


def _airflow(*args: str) -> Callable[[Settings], list[str]]:
    return lambda settings: [executable("airflow"), *args]


def _mlflow_argv(settings: Settings) -> list[str]:
    """The MLflow server: its own backend store (never the clients' http URI), artifacts served or in an object store.

    Serving artifacts (the default) makes new experiments' roots ``mlflow-artifacts:/``, so clients on other
    hosts upload and download through the server and need no access to its files.  Without it the server only
    names ``mlflow_artifact_root`` (an object store every client can reach) as the root of new experiments.
    """
    argv = [executable("mlflow"), "server", "--backend-store-uri", settings.mlflow_backend_store_uri,
            "--host", settings.mlflow_host, "--port", str(settings.mlflow_port), "--workers", "1"]
    if settings.mlflow_serve_artifacts:
        argv += ["--serve-artifacts", "--artifacts-destination", settings.mlflow_artifacts_destination]
    else:
        argv += ["--no-serve-artifacts", "--default-artifact-root", settings.mlflow_artifact_root]
    if settings.mlflow_allowed_hosts:
        argv += ["--allowed-hosts", settings.mlflow_allowed_hosts]
    return argv


def _dashboard_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.dashboard_port}"


def _mlflow_url(settings: Settings) -> str:
    """The MLflow server as this host reaches it: its bind address, loopback when it binds every interface."""
    host = settings.mlflow_host
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.mlflow_port}"


ROLES: dict[str, Role] = {role.name: role for role in (
    Role("airflow-api-server", _airflow("api-server"), lambda s, since: health.api_server_healthy(s),
         url=lambda s: s.airflow_api_url),
    Role("airflow-scheduler", _airflow("scheduler"), health.scheduler_healthy),
    Role("airflow-dag-processor", _airflow("dag-processor"),
         lambda s, since: health.heartbeat_since(s, "dag-processor", since)),
    Role("airflow-triggerer", _airflow("triggerer"), lambda s, since: health.heartbeat_since(s, "triggerer", since)),
    Role("airflow-celery-worker",
         lambda s: [executable("airflow"), "celery", "worker", "--celery-hostname", s.celery_worker_node],
         lambda s, since: health.celery_worker_healthy(s)),
    Role("dashboard", lambda s: [sys.executable, "-m", "dashboard_server"],
         lambda s, since: health.dashboard_healthy(f"{_dashboard_url(s)}/healthz"), url=_dashboard_url,
         cwd=lambda s: REPO_ROOT),
    Role("mlflow", _mlflow_argv, lambda s, since: health.http_ok(f"{_mlflow_url(s)}/health"), url=_mlflow_url,
         cwd=lambda s: s.state_dir,
         # MLflow 3's job runner (several huey consumers, hundreds of MB each) serves GenAI scorers we do not use.
         env=lambda env: {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}),
)}


def one_machine_roles(settings: Settings) -> list[str]:
    """Every role ``./autopr run`` starts, in start order."""
    names = ["airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]
    if settings.airflow_executor == "CeleryExecutor":
        names.append("airflow-celery-worker")
    return [*names, "dashboard", "mlflow"]


def service_for(role_name: str, settings: Settings, base_env: dict[str, str] | None = None) -> Service:
    role = ROLES[role_name]
    env = role.env(airflow_env(settings, base_env))
    return Service(
        role.name, role.argv(settings), env, settings.state_dir / "logs" / f"{role.name}.log",
        is_healthy=lambda service: role.is_healthy(settings, service.started_at),
        url=role.url(settings), cwd=role.cwd(settings),
    )


def build_services(settings: Settings, base_env: dict[str, str] | None = None) -> list[Service]:
    return [service_for(name, settings, base_env) for name in one_machine_roles(settings)]
