"""Fixtures for running the built-in workflow templates end to end with ``dag.test()``.

``dag.test()`` runs every task in-process but still records DAG runs and task
instances in Airflow's metadata database, so that database (SQLite under this
test session's AIRFLOW_HOME, set by tests/conftest.py) is migrated once per
session with the real ``airflow db migrate``.
"""

from __future__ import annotations

import pytest

from tests.support.github_standin import GitHubStandIn
from tests.support.sample_repo import GitRepo, make_repo


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
