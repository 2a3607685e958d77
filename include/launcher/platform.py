"""The platform's services, defined once for the run command and the tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from include.launcher.airflow_env import airflow_env, write_admin_password
from include.launcher.processes import Service, Supervisor
from include.settings import REPO_ROOT, Settings

AIRFLOW_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def airflow_health(settings: Settings) -> dict:
    url = f"{settings.airflow_api_url}/api/v2/monitor/health"
    return httpx.get(url, timeout=3).json()


def airflow_all_healthy(settings: Settings) -> bool:
    health = airflow_health(settings)
    return all(health.get(name, {}).get("status") == "healthy" for name in AIRFLOW_COMPONENTS)


def _http_ok(url: str) -> bool:
    return httpx.get(url, timeout=3).status_code == 200


def build_services(settings: Settings, base_env: dict[str, str] | None = None) -> list[Service]:
    """Airflow, then the dashboard sidecar, then the MLflow UI."""
    env = airflow_env(settings, base_env)
    logs = settings.state_dir / "logs"
    bin_dir = Path(sys.executable).parent
    services: list[Service] = []

    if settings.airflow_executor == "CeleryExecutor":
        # standalone forces LocalExecutor; the scale-out shape runs each component itself.
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            services.append(Service(f"airflow-{component}", [str(bin_dir / "airflow"), component], env,
                                    logs / f"airflow-{component}.log", is_healthy=lambda: True))
        services.append(Service("airflow-celery-worker", [str(bin_dir / "airflow"), "celery", "worker"], env,
                                logs / "airflow-celery-worker.log", is_healthy=lambda: True))
        services[0].is_healthy = lambda: airflow_all_healthy(settings)
        services[0].url = settings.airflow_api_url
    else:
        services.append(Service("airflow", [str(bin_dir / "airflow"), "standalone"], env, logs / "airflow.log",
                                is_healthy=lambda: airflow_all_healthy(settings), url=settings.airflow_api_url))

    if (REPO_ROOT / "dashboard_server" / "__main__.py").exists():
        dash_url = f"http://127.0.0.1:{settings.dashboard_port}"
        services.append(Service("dashboard", [sys.executable, "-m", "dashboard_server"], env, logs / "dashboard.log",
                                is_healthy=lambda: _http_ok(f"{dash_url}/healthz"), url=dash_url, cwd=REPO_ROOT))

    mlflow_url = f"http://127.0.0.1:{settings.mlflow_port}"
    # MLflow 3's job runner (five huey consumers, ~250 MB each) serves GenAI scorers we do not use.
    mlflow_env = {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    services.append(Service(
        "mlflow",
        [str(bin_dir / "mlflow"), "server", "--backend-store-uri", settings.mlflow_tracking_uri,
         "--default-artifact-root", settings.mlflow_artifact_root, "--host", "127.0.0.1",
         "--port", str(settings.mlflow_port), "--workers", "1"],
        mlflow_env, logs / "mlflow.log", is_healthy=lambda: _http_ok(f"{mlflow_url}/health"), url=mlflow_url,
        cwd=settings.state_dir,
    ))
    return services


def prepare(settings: Settings, on_progress=print) -> tuple[str, str]:
    """Everything before processes start: state dir, app DB schema, seed data, admin login."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    settings.workflows_dir.mkdir(parents=True, exist_ok=True)
    os.makedirs(settings.mlflow_artifact_root, exist_ok=True)
    from include.db.migrate import upgrade

    on_progress("migrating the app database ...")
    upgrade(settings.database_url)
    from include.launcher.seed import seed_app_data

    seed_app_data(settings)
    return write_admin_password(settings)


def make_supervisor(settings: Settings, base_env: dict[str, str] | None = None) -> Supervisor:
    return Supervisor(build_services(settings, base_env))


def start_platform(settings: Settings, base_env: dict[str, str] | None = None, on_progress=print,
                   timeout: float = 180) -> tuple[Supervisor, str, str]:
    """Prepare, start every service, wait until healthy, apply airflow_settings.yaml.

    Returns the running supervisor and the admin login.  On failure everything
    started so far is stopped before the error propagates.
    """
    from include.launcher import airflow_settings

    user, password = prepare(settings, on_progress=on_progress)
    supervisor = make_supervisor(settings, base_env)
    try:
        supervisor.start_all(timeout=timeout, on_progress=on_progress)
        token = airflow_settings.get_token(settings.airflow_api_url, user, password)
        counts = airflow_settings.apply(settings.airflow_api_url, token, airflow_settings.load())
        on_progress(f"applied airflow_settings.yaml: {counts}")
    except BaseException:
        supervisor.stop_all()
        raise
    return supervisor, user, password
