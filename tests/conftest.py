"""Shared test fixtures.

Tests run against real services: a fresh PostgreSQL database per test session
(created on 127.0.0.1:5432 and dropped at the end), real Redis, real Airflow,
MLflow and Socket.IO code.  Every test session gets its own state directory
and AIRFLOW_HOME, so parallel runs on one machine never share files.

The environment is set at import time, before anything imports Airflow or
reads settings, because both cache their configuration on first import.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import uuid
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.review_fixtures"]

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("AUTOPR_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("AUTOPR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_STATE = Path(tempfile.mkdtemp(prefix="autopr-test-"))
_PG_DB = f"autopr_test_{uuid.uuid4().hex[:10]}"
_PG_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{_PG_DB}"

os.environ["AUTOPR_STATE_DIR"] = str(_STATE)
# Airflow and the platform share one JWT secret, audience and issuer, exactly as the launcher
# configures them (include/launcher/airflow_env.py): an in-process Airflow API app's auth manager
# and the platform's own verification then accept the same tokens.
_JWT_SECRET = secrets.token_urlsafe(48)
os.environ["AUTOPR_JWT_SECRET"] = _JWT_SECRET
os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] = _JWT_SECRET
os.environ["AIRFLOW__API_AUTH__JWT_AUDIENCE"] = os.environ.get("AUTOPR_JWT_AUDIENCE", "autopr-platform")
os.environ["AIRFLOW__API_AUTH__JWT_ISSUER"] = os.environ.get("AUTOPR_JWT_ISSUER", "autopr-airflow")
os.environ["AUTOPR_DATABASE_URL"] = _PG_URL
os.environ["AUTOPR_WORKFLOWS_DIR"] = str(_STATE / "workflows")
os.environ.pop("AUTOPR_REDIS_URL", None)  # tests opt in to Redis explicitly
os.environ["AIRFLOW_HOME"] = str(_STATE / "airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO_ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_STATE / 'airflow' / 'airflow.db'}"
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{_STATE / 'mlflow.db'}")
(_STATE / "airflow").mkdir(parents=True, exist_ok=True)


def _admin_exec(sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of this test session's own, migrated PostgreSQL database."""
    _admin_exec(f'CREATE DATABASE "{_PG_DB}"')
    from include.db.migrate import upgrade

    upgrade(_PG_URL)
    yield _PG_URL
    from include.db.session import reset_engine

    reset_engine()
    _admin_exec(f'DROP DATABASE IF EXISTS "{_PG_DB}" WITH (FORCE)')


@pytest.fixture()
def db(pg_url: str):
    """A clean app database for one test: every table emptied first."""
    from sqlalchemy import text

    from include.db.models import Base
    from include.db.session import get_engine

    engine = get_engine(pg_url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "execution_events")
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        # Event ids never go backwards in production, and long-lived services (the shared platform's
        # sidecar) remember the highest id they delivered: empty the table but keep counting.
        conn.execute(text('TRUNCATE "execution_events" CONTINUE IDENTITY'))
    return engine


@pytest.fixture()
def settings():
    """Fresh settings for a test that changes AUTOPR_* variables via monkeypatch."""
    from include.settings import get_settings

    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Real Redis; tests that need it fail loudly (the test command starts it)."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.ping()
    return REDIS_TEST_URL


@pytest.fixture(scope="session")
def state_dir() -> Path:
    return _STATE



@pytest.fixture(scope="session")
def platform(pg_url: str):
    """The whole platform (Airflow components, dashboard sidecar, MLflow UI) started like ``./autopr run``.

    One instance per test session, shared by every integration test (starting
    Airflow costs ~40 s on this machine).  Its app database is ``pg_url``.
    """
    from tests.support.stack import running_platform

    with running_platform(_STATE / "platform") as running:
        yield running


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Airflow's metadata DB (SQLite in this session's AIRFLOW_HOME), migrated once for every dag.test()."""
    import subprocess
    import sys

    airflow = Path(sys.executable).parent / "airflow"
    result = subprocess.run([str(airflow), "db", "migrate"], env=os.environ.copy(), capture_output=True, text=True,
                            timeout=600, check=False)
    if result.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


# --- Two workers (pytest-xdist, as ./autopr test runs it) ---------------------------------------------------------
# Tests that share an expensive session resource form one xdist group, so the resource is started once, on one
# worker; every other test is grouped by its module (its module fixtures are built once).  The groups are handed
# out longest first (the order below, then collection order), so no long test starts last and leaves one worker idle.
_SHARED_RESOURCES = ("platform", "airflow_db")  # session fixtures that start Airflow (processes, or its DB migration)
_LONG_FIRST = (  # modules that start a whole platform or cluster of their own, longest first
    "tests/foundation/test_newcomer.py",
    "tests/scale/test_compose_cluster.py",
    "tests/foundation/test_upgrade.py",
    "tests/scale/",
)


def _xdist_group(item: pytest.Item) -> tuple[int, str]:
    path = item.nodeid.split("::", 1)[0]
    for rank, resource in enumerate(_SHARED_RESOURCES):
        if resource in item.fixturenames:
            return rank, resource
    for rank, prefix in enumerate(_LONG_FIRST, start=len(_SHARED_RESOURCES)):
        if path.startswith(prefix):
            return rank, path
    return len(_SHARED_RESOURCES) + len(_LONG_FIRST), path


def _under_loadgroup(config: pytest.Config) -> bool:
    # xdist's workers see --dist as "no" and keep the choice in option.loadgroup
    return bool(getattr(config.option, "loadgroup", False)) or getattr(config.option, "dist", "no") == "loadgroup"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _under_loadgroup(config):
        return
    from _pytest.nodeid import coerce_node_id

    groups = {id(item): _xdist_group(item) for item in items}
    items.sort(key=lambda item: groups[id(item)][0])  # stable: collection order within a rank
    for item in items:
        # xdist's loadgroup reads the group from a "@group" suffix of the node id; pytest 9 keeps the id in ``_id``,
        # where xdist 3.8 (which writes ``_nodeid``) cannot put it, so the suffix is written here.
        item._id = coerce_node_id(f"{item.nodeid}@{groups[id(item)][1]}")
