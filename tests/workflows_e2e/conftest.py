"""Fixtures for running the built-in workflow templates end to end with ``dag.test()``.

``dag.test()`` runs every task in-process but still records DAG runs and task
instances in Airflow's metadata database, so that database (SQLite under this
test session's AIRFLOW_HOME, set by tests/conftest.py) is migrated once per
session with the real ``airflow db migrate``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.github_standin import GitHubStandIn
from tests.support.sample_repo import GitRepo, make_repo


def _already_migrated() -> bool:
    """Another area's fixture may have migrated this session's SQLite metadata DB already."""
    import sqlite3

    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    path = Path(url.removeprefix("sqlite:///"))
    if not url.startswith("sqlite:///") or not path.exists():
        return False
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"alembic_version", "dag_run", "dag_version"} <= tables:
            return False
        return conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1


@pytest.fixture(scope="session")
def airflow_db() -> None:
    if _already_migrated():
        return
    airflow = Path(sys.executable).parent / "airflow"
    done = subprocess.run([str(airflow), "db", "migrate"], env=dict(os.environ), capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, f"airflow db migrate failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"


@pytest.fixture(scope="session")
def git_repo(tmp_path_factory) -> GitRepo:
    return make_repo(tmp_path_factory.mktemp("e2e-repo") / "acme-app")


@pytest.fixture()
def project(db) -> str:
    from include.db.models import Project
    from include.db.session import session_scope

    with session_scope() as session:
        session.add(Project(slug="acme", name="Acme"))
    return "acme"


@pytest.fixture()
def github(monkeypatch) -> GitHubStandIn:
    with GitHubStandIn() as standin:
        monkeypatch.setenv("AIRFLOW_CONN_GITHUB_DEFAULT", standin.connection_uri_json())
        yield standin


@pytest.fixture(autouse=True)
def _no_model_registry(monkeypatch, tmp_path):
    """Pin "no model served" (analyser severities): other areas' tests may register a champion in this session."""
    from include.settings import get_settings

    monkeypatch.setenv("AUTOPR_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'no-registry' / 'mlflow.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
