"""Fixtures for the learning-system tests.

Real PostgreSQL (``db``), a real MLflow tracking store (a temp SQLite store per
test, with its own artifact root) and a real Airflow metadata DB (migrated once
per session so ``dag.test()`` runs).  Training in these tests uses small
subsamples so the whole area stays within its time budget.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def auth(username: str) -> dict[str, str]:
    from include.auth.tokens import mint_token

    return {"Authorization": f"Bearer {mint_token(username)}"}


@pytest.fixture()
def client(db, settings):
    from fastapi.testclient import TestClient

    from include.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def project(db) -> str:
    """Project 'acme' with ed (editor) and vic (viewer); 'other' with mallory (admin)."""
    from include.db.models import Project, ProjectMember
    from include.db.session import session_scope
    from include.enums import Role

    with session_scope() as s:
        acme = Project(slug="acme", name="Acme")
        acme.members += [ProjectMember(username="ed", role=Role.editor), ProjectMember(username="vic", role=Role.viewer)]
        other = Project(slug="other", name="Other")
        other.members.append(ProjectMember(username="mallory", role=Role.admin))
        s.add_all([acme, other])
    return "acme"


@pytest.fixture()
def ml_env(tmp_path, monkeypatch, settings):
    """Fresh dataset dir and MLflow store for one test; returns the settings pointing at them."""
    from include.settings import get_settings

    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("AUTOPR_MLFLOW_TRACKING_URI", tracking)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    monkeypatch.setenv("AUTOPR_MLFLOW_ARTIFACT_ROOT", str(tmp_path / "mlartifacts"))
    monkeypatch.setenv("AUTOPR_DATASET_DIR", str(tmp_path / "datasets"))
    monkeypatch.setenv("AUTOPR_RETRAIN_MIN_NEW_ROWS", "20")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
