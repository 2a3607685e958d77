"""Fixtures for the workflow actions: a real git repository with real findings, a project, the GitHub stand-in."""

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


def make_ctx(event: dict | None = None, upstream: dict | None = None, project: str = "acme"):
    from include.actions import RunContext

    return RunContext(
        project=project,
        workflow_id="pr-review",
        workflow_version=3,
        dag_id="wf_acme_pr_review",
        run_id="manual__2026-01-01T00:00:00+00:00",
        event=event or {},
        upstream=upstream or {},
    )


@pytest.fixture(autouse=True)
def _no_model_registry(monkeypatch, tmp_path):
    """Pin "no model served" (analyser severities): other areas' tests may register a champion in this session."""
    from include.settings import get_settings

    monkeypatch.setenv("AUTOPR_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'no-registry' / 'mlflow.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
