"""Alembic migrations run up and down on PostgreSQL and SQLite and match the models."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from include.db.migrate import downgrade, upgrade
from include.db.models import Base
from tests.conftest import PG_ADMIN_URL

EXPECTED_TABLES = {
    "projects", "project_members", "workflows", "workflow_versions", "workflow_templates",
    "execution_events", "review_sessions", "review_issues", "ml_feedback", "webhook_deliveries",
    "project_repositories", "webhook_delivery_projects",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    name = f"autopr_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    from include.db.session import reset_engine

    reset_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_db_url):
    upgrade(empty_db_url)
    assert EXPECTED_TABLES <= _tables(empty_db_url)
    downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) == set()
    upgrade(empty_db_url)  # and back up again: downgrades leave nothing behind that blocks it
    assert EXPECTED_TABLES <= _tables(empty_db_url)


def test_models_match_migrations(empty_db_url):
    upgrade(empty_db_url)
    engine = create_engine(empty_db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    # Only real schema differences count (types compared loosely across backends).
    relevant = [d for d in diff if not (isinstance(d, list) or d[0] in ("modify_type",))]
    assert relevant == [], f"models and migrations differ: {relevant}"


def test_event_ids_are_monotonic_and_keys_unique(db):
    from datetime import datetime, timezone

    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session

    from include.db.models import ExecutionEvent

    now = datetime.now(timezone.utc)
    with Session(db) as session:
        rows = [ExecutionEvent(event_key=f"k{i}", event_type="task_instance", project="p", dag_id="d",
                               state="running", occurred_at=now, payload={}) for i in range(5)]
        session.add_all(rows)
        session.commit()
        ids = [r.id for r in rows]
        assert ids == sorted(ids) and len(set(ids)) == 5
        session.add(ExecutionEvent(event_key="k0", event_type="task_instance", project="p", dag_id="d",
                                   state="running", occurred_at=now, payload={}))
        with pytest.raises(IntegrityError):
            session.commit()
