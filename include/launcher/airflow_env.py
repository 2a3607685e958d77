"""The environment every Airflow process of the platform runs with.

Airflow reads its configuration from ``AIRFLOW__SECTION__KEY`` variables; this
module derives them from the platform settings so Airflow and the platform
agree on the JWT secret, the DAG and plugin folders and the ports.  An
``AIRFLOW__*`` variable already set in the environment wins over the derived
one, so a deployment can tune Airflow without patching the launcher.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from include.settings import REPO_ROOT, Settings


def airflow_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    given = {key: value for key, value in env.items() if key.startswith("AIRFLOW__")}
    home = settings.airflow_home
    venv_bin = str(Path(sys.executable).parent)
    api = settings.airflow_api_url.rstrip("/")
    env.update(
        {
            # standalone starts its components as `airflow` subprocesses found on PATH
            "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": settings.airflow_executor,
            "AIRFLOW__CORE__PARALLELISM": str(settings.airflow_parallelism),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(settings.airflow_log_server_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(settings.airflow_log_server_ports[1]),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(settings.airflow_log_server_ports[2]),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.admin_username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__API__HOST": settings.airflow_host,
            "AIRFLOW__API__PORT": str(settings.airflow_port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API_AUTH__JWT_SECRET": settings.resolved_jwt_secret(),
            "AIRFLOW__API_AUTH__JWT_AUDIENCE": settings.jwt_audience,
            "AIRFLOW__API_AUTH__JWT_ISSUER": settings.jwt_issuer,
            # New compiled workflows should appear within seconds, not the default 5 minutes.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
            # Every Airflow process (and DAG task) sees the same platform settings.
            "AUTOPR_STATE_DIR": str(settings.state_dir),
            "AUTOPR_DATABASE_URL": settings.database_url,
            "AUTOPR_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "AUTOPR_AIRFLOW_PORT": str(settings.airflow_port),
            "AUTOPR_AIRFLOW_HOST": settings.airflow_host,
            "AUTOPR_DASHBOARD_PORT": str(settings.dashboard_port),
            # The dashboard sidecar verifies Airflow's tokens: same secret, audience and issuer.
            "AUTOPR_JWT_SECRET": settings.resolved_jwt_secret(),
            "AUTOPR_JWT_AUDIENCE": settings.jwt_audience,
            "AUTOPR_JWT_ISSUER": settings.jwt_issuer,
            "AUTOPR_WORKFLOWS_DIR": str(settings.workflows_dir),
            "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "GX_ANALYTICS_ENABLED": "False",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if settings.redis_url:
        env["AUTOPR_REDIS_URL"] = settings.redis_url
    # The platform API inside the API server starts workflow runs (webhooks) as this Airflow user.
    env["AUTOPR_AIRFLOW_API_USERNAME"] = settings.airflow_api_username or settings.admin_username
    env["AUTOPR_AIRFLOW_API_PASSWORD"] = settings.airflow_api_password or settings.resolved_admin_password()
    if settings.webhook_secret:
        env["AUTOPR_WEBHOOK_SECRET"] = settings.webhook_secret
    if settings.airflow_database_url:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = settings.airflow_database_url
    else:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    if settings.airflow_executor == "CeleryExecutor":
        broker = settings.redis_url or ""
        env["AIRFLOW__CELERY__BROKER_URL"] = broker
        result_db = settings.airflow_database_url or ""
        env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + result_db.replace("+psycopg2", "")
        env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(settings.celery_worker_concurrency)
    # --- compiled workflows: their own versioned git bundle, read by every host --------------------------
    # (include/workflows/bundle.py; the init step creates a missing bundle; runs are pinned to a commit)
    from include.workflows.bundle import airflow_bundle_env

    env.update(airflow_bundle_env(settings))
    # ------------------------------------------------------------------------------------------------------
    # --- Airflow's auth manager: SimpleAuthManager (one machine, the default) or FAB (projects isolated) ----
    # (include/auth/airflow_roles.py: FAB roles per project from the app DB's members; DAGs carry access_control)
    env["AUTOPR_AIRFLOW_AUTH_MANAGER"] = settings.airflow_auth_manager  # the DAG processor's builder reads it
    if settings.airflow_auth_manager == "fab":
        from include.auth.airflow_roles import FAB_AUTH_MANAGER

        env["AIRFLOW__CORE__AUTH_MANAGER"] = FAB_AUTH_MANAGER
        env.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", None)
        env.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", None)
    # ------------------------------------------------------------------------------------------------------
    # --- Airflow's own metrics: StatsD or OpenTelemetry, off unless AUTOPR_AIRFLOW_METRICS chooses one -------
    env.update(_airflow_metrics_env(settings, env))
    # ------------------------------------------------------------------------------------------------------
    env.update(given)
    return env


def _airflow_metrics_env(settings: Settings, env: dict[str, str]) -> dict[str, str]:
    """The ``[metrics]`` options (and standard ``OTEL_*`` variables) for ``settings.airflow_metrics``.

    Without the ``statsd`` package Airflow quietly sends no metrics (one log line
    per process), and OpenTelemetry without an endpoint exports nowhere; both are
    refused here instead, so the run command says what to fix before anything
    starts.  Airflow deprecated its ``otel_host``/``otel_port``
    options for the standard OpenTelemetry variables, so those are what the
    endpoint becomes; an ``OTEL_*`` variable already set wins, like ``AIRFLOW__*``.
    """
    from include.settings import ENV_PREFIX, SettingsError

    choice = settings.airflow_metrics or "none"
    if choice == "none":
        return {}
    out = {"AIRFLOW__METRICS__STATSD_ON": "False", "AIRFLOW__METRICS__OTEL_ON": "False"}
    if choice == "statsd":
        import importlib.util

        if importlib.util.find_spec("statsd") is None:
            raise SettingsError(
                f"{ENV_PREFIX}AIRFLOW_METRICS=statsd needs the statsd package (install Airflow's statsd extra:"
                " pip install 'apache-airflow[statsd]'), or choose otel"
            )
        out.update({
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": settings.airflow_statsd_host,
            "AIRFLOW__METRICS__STATSD_PORT": str(settings.airflow_statsd_port),
            "AIRFLOW__METRICS__STATSD_PREFIX": settings.airflow_metrics_prefix,
        })
        return out
    endpoint = settings.airflow_otel_endpoint.strip()
    if not (endpoint or env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        raise SettingsError(
            f"{ENV_PREFIX}AIRFLOW_METRICS=otel needs {ENV_PREFIX}AIRFLOW_OTEL_ENDPOINT (the collector's OTLP/HTTP"
            " metrics URL, e.g. http://collector:4318/v1/metrics) or OTEL_EXPORTER_OTLP_ENDPOINT"
        )
    out.update({"AIRFLOW__METRICS__OTEL_ON": "True", "AIRFLOW__METRICS__OTEL_PREFIX": settings.airflow_metrics_prefix})
    if endpoint and not env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
        out["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = endpoint
    if not env.get("OTEL_SERVICE_NAME"):
        out["OTEL_SERVICE_NAME"] = "airflow"
    return out


def write_admin_password(settings: Settings) -> tuple[str, str]:
    """Write the simple auth manager's password file so the login is known and stable."""
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    user, password = settings.admin_username, settings.resolved_admin_password()
    path = home / "passwords.json"
    path.write_text(json.dumps({user: password}))
    path.chmod(0o600)
    return user, password
