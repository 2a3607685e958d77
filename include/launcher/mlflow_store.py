"""Bring an existing MLflow store up to the installed MLflow's schema in the init step.

After an MLflow upgrade, an existing store is at an older schema revision.
MLflow then either refuses it ("out-of-date database schema": only columns
changed) or migrates it itself in whichever process connects first (tables are
missing) — the server, a DAG task and the API server at once, racing each other.
So the init step, which already migrates the app database and Airflow's under
one lock, runs ``mlflow db upgrade`` once, before any component starts, when
(and only when) the store exists at another revision than the installed MLflow's
newest.  A store that does not exist yet is left alone: the server creates it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from include.launcher.processes import ServiceFailed
from include.launcher.roles import executable
from include.settings import Settings, is_http_uri


def installed_head() -> str | None:
    """The newest schema revision the installed MLflow knows (None if MLflow no longer exposes it)."""
    try:
        from mlflow.store.db.utils import _get_latest_schema_revision
    except ImportError:
        return None
    return _get_latest_schema_revision()


def store_revision(uri: str) -> str | None:
    """The store's schema revision, or None when the database or its tables do not exist yet."""
    url = make_url(uri)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return None
    engine = create_engine(uri)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            from alembic.migration import MigrationContext

            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade_mlflow_store(settings: Settings, on_progress: Callable[[str], None] = lambda _m: None) -> bool:
    """Run ``mlflow db upgrade`` on the backend store if it is a database at an older revision; True if it ran."""
    uri = settings.mlflow_backend_store_uri
    if not uri or is_http_uri(uri) or "://" not in uri:
        return False
    current = store_revision(uri)
    if current is None or current == installed_head():
        return False
    on_progress(f"upgrading the MLflow store from schema {current} to the installed MLflow's ...")
    result = subprocess.run([executable("mlflow"), "db", "upgrade", uri], capture_output=True, text=True,
                            timeout=900, check=False, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise ServiceFailed(f"AUTOPR_MLFLOW_BACKEND_STORE_URI: mlflow db upgrade failed:\n{result.stderr[-3000:]}")
    return True
