"""Fixtures for running the built-in workflow templates end to end with ``dag.test()``.

``dag.test()`` runs every task in-process but still records DAG runs and task
instances in Airflow's metadata database, so that database (SQLite under this
test session's AIRFLOW_HOME, set by tests/conftest.py) is migrated once per
session with the real ``airflow db migrate``.
"""

from __future__ import annotations

from tests.support.no_registry import no_model_registry  # noqa: F401 (autouse fixture)
