"""A throw-away platform state for benchmarks that run the learning loop in-process.

Why this module exists: a benchmark must not touch anyone's app database, MLflow
store or datasets, and must leave nothing behind — so each run gets its own
migrated PostgreSQL database (on the local server, dropped afterwards), a temp
MLflow SQLite store with its artifact root and a temp dataset dir, all through
the ``AUTOPR_*`` settings the platform reads.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PG_ADMIN = os.environ.get("AUTOPR_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def temp_platform(prefix: str = "autopr-bench-") -> Iterator[tuple[Any, Any]]:
    """Yield (app engine, settings) on a fresh migrated database and temp MLflow/dataset dirs; drop all after."""
    from sqlalchemy import create_engine, text

    state = Path(tempfile.mkdtemp(prefix=prefix))
    name = f"autopr_bench_{uuid.uuid4().hex[:8]}"
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    tracking = f"sqlite:///{state / 'mlflow.db'}"
    os.environ.update({
        "AUTOPR_STATE_DIR": str(state), "AUTOPR_DATABASE_URL": url, "AUTOPR_MLFLOW_TRACKING_URI": tracking,
        "MLFLOW_TRACKING_URI": tracking, "AUTOPR_MLFLOW_ARTIFACT_ROOT": str(state / "mlartifacts"),
        "AUTOPR_DATASET_DIR": str(state / "datasets"), "GX_ANALYTICS_ENABLED": "False",
    })
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        from include.db.migrate import upgrade
        from include.db.session import get_engine, reset_engine
        from include.settings import get_settings

        get_settings.cache_clear()
        upgrade(url)
        yield get_engine(url), get_settings()
        reset_engine()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(state, ignore_errors=True)
