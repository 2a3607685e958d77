"""Fixtures shared by the action and template end-to-end tests (loaded by tests/conftest.py).

A real git repository with real findings, a project in the app database, and
the GitHub stand-in wired in as Airflow's ``github_default`` connection.
"""

from __future__ import annotations

import pytest

from tests.support.github_standin import GitHubStandIn
from tests.support.sample_repo import GitRepo, make_repo


@pytest.fixture(scope="session")
def git_repo(tmp_path_factory) -> GitRepo:
    return make_repo(tmp_path_factory.mktemp("repo") / "acme-app")


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
