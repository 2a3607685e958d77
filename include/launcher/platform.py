"""The one-machine platform: the init step, then every role under one supervisor.

``init`` is what a deployment's one-shot init container does, and what every
``./autopr run`` does first, on a fresh state directory as on one left by an
older checkout: create the admin login, migrate the app database and Airflow's
metadata database (under a lock, so two starts never migrate at once), seed
the demo project and templates.  Separately started Airflow components do not
migrate their database themselves; ``airflow standalone`` did, and this is the
step that replaces it.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from include.launcher import airflow_settings
from include.launcher.airflow_env import airflow_env, write_admin_password
from include.launcher.health import AIRFLOW_COMPONENTS, airflow_all_healthy, airflow_health  # noqa: F401 (re-export)
from include.launcher.mlflow_store import upgrade_mlflow_store
from include.launcher.processes import RestartPolicy, ServiceFailed, Supervisor
from include.launcher.roles import build_services, executable
from include.settings import Settings


@contextmanager
def _init_lock(settings: Settings) -> Iterator[None]:
    """One init at a time per state directory (PostgreSQL migrations also take Airflow's own global lock)."""
    path = settings.state_dir / "init.lock"
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrate_airflow_db(settings: Settings, base_env: dict[str, str] | None = None) -> None:
    log = settings.state_dir / "logs" / "airflow-db-migrate.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        result = subprocess.run([executable("airflow"), "db", "migrate"], check=False, env=airflow_env(settings, base_env),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=900)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise ServiceFailed(f"airflow db migrate failed (exit code {result.returncode}); last log lines ({log}):\n"
                            f"{tail}")


def prepare(settings: Settings, on_progress=print, base_env: dict[str, str] | None = None) -> tuple[str, str]:
    """The init step: admin login, both databases migrated, seed data. Returns the admin login."""
    from include.db.migrate import upgrade
    from include.launcher.preflight import ensure_directories
    from include.launcher.seed import seed_app_data

    ensure_directories(settings)
    with _init_lock(settings):
        user, password = write_admin_password(settings)
        on_progress("migrating the app database ...")
        upgrade(settings.database_url)
        seed_app_data(settings)
        from include.workflows.bundle import prepare_bundle

        prepare_bundle(settings)
        upgrade_mlflow_store(settings, on_progress)
        on_progress("migrating Airflow's metadata database ...")
        migrate_airflow_db(settings, base_env)
        # --- FAB auth manager: the admin as a FAB user, every project's roles and members' roles ------------
        # (include/auth/airflow_roles.py; before any DAG processor parses a DAG whose access_control names them)
        if settings.airflow_auth_manager == "fab":
            on_progress("syncing Airflow's users and project roles (FAB auth manager) ...")
            sync_airflow_roles(settings, user, password, base_env)
        # ----------------------------------------------------------------------------------------------------
    return user, password


def sync_airflow_roles(settings: Settings, username: str, password: str,
                       base_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m include.auth.airflow_roles`` in a child configured exactly like Airflow's components.

    A child, because FAB's security manager must see the same Airflow configuration the
    API server will run with, which this launcher process does not import.
    """
    env = {**airflow_env(settings, base_env), "AUTOPR_ADMIN_USERNAME": username, "AUTOPR_ADMIN_PASSWORD": password}
    result = subprocess.run([sys.executable, "-m", "include.auth.airflow_roles"], env=env, capture_output=True,
                            text=True, timeout=600, check=False, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise ServiceFailed(f"syncing Airflow's users and project roles failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def make_supervisor(settings: Settings, base_env: dict[str, str] | None = None,
                    policy: RestartPolicy | None = None) -> Supervisor:
    return Supervisor(build_services(settings, base_env), policy=policy or RestartPolicy(),
                      status_file=settings.state_dir / "run" / "services.json")


def apply_airflow_settings(settings: Settings, user: str, password: str, overwrite: bool = False) -> str:
    """Seed airflow_settings.yaml through the running API server."""
    counts = airflow_settings.apply_over_http(settings.airflow_api_url, user, password, airflow_settings.load(),
                                              overwrite=overwrite or settings.airflow_settings_overwrite)
    return airflow_settings.summary(counts)


def apply_airflow_settings_in_process(settings: Settings, user: str, password: str,
                                      base_env: dict[str, str] | None = None, overwrite: bool = False) -> str:
    """Seed airflow_settings.yaml before any API server runs (a deployment's init): Airflow's API app in a child
    process configured exactly like the components."""
    env = {**airflow_env(settings, base_env), "AUTOPR_ADMIN_USERNAME": user, "AUTOPR_ADMIN_PASSWORD": password}
    argv = [sys.executable, "-m", "include.launcher.airflow_settings"]
    if overwrite or settings.airflow_settings_overwrite:
        argv.append("--overwrite")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise ServiceFailed(f"applying airflow_settings.yaml failed:\n{result.stderr[-3000:]}")
    return airflow_settings.summary(json.loads(result.stdout.strip().splitlines()[-1]))


def start_platform(settings: Settings, base_env: dict[str, str] | None = None, on_progress=print,
                   timeout: float = 180, overwrite_settings: bool = False,
                   policy: RestartPolicy | None = None) -> tuple[Supervisor, str, str]:
    """Init, start every role, wait until all are healthy, seed ``airflow_settings.yaml``.

    Returns the running supervisor and the admin login.  On failure everything
    started so far is stopped before the error propagates.
    """
    user, password = prepare(settings, on_progress=on_progress, base_env=base_env)
    supervisor = make_supervisor(settings, base_env, policy)
    try:
        supervisor.start_all(timeout=timeout, on_progress=on_progress)
        on_progress(f"airflow_settings.yaml: {apply_airflow_settings(settings, user, password, overwrite_settings)}")
    except BaseException:
        supervisor.stop_all()
        raise
    return supervisor, user, password

