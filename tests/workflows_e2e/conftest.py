"""Fixtures for running the built-in workflow templates end to end with ``dag.test()``.

``dag.test()`` runs every task in-process but still records DAG runs and task
instances in Airflow's metadata database, so that database (SQLite under this
test session's AIRFLOW_HOME, set by tests/conftest.py) is migrated once per
session with the real ``airflow db migrate``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_model_registry(monkeypatch, tmp_path):
    """Pin "no model served" (analyser severities): other areas' tests may register a champion in this session."""
    from include.settings import get_settings

    monkeypatch.setenv("AUTOPR_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'no-registry' / 'mlflow.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
