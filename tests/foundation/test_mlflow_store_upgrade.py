"""The init step brings a store written by an older MLflow up to the installed schema, once, before components start.

The old store is made the way an older MLflow made it: MLflow's initial tables,
then its own migrations up to a revision a few steps before the installed head.
"""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from mlflow import MlflowClient
from mlflow.store.db.utils import _get_alembic_config
from mlflow.store.tracking.dbmodels.initial_models import Base as Initial
from sqlalchemy import create_engine

from include.launcher.mlflow_store import installed_head, store_revision, upgrade_mlflow_store
from include.settings import Settings


def _old_store(uri: str, steps_back: int = 1) -> str:
    engine = create_engine(uri)
    Initial.metadata.create_all(engine)
    config = _get_alembic_config(uri)
    revisions = list(ScriptDirectory.from_config(config).walk_revisions())  # newest first
    old = revisions[steps_back].revision
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, old)
    engine.dispose()
    return old


def test_an_out_of_date_store_is_upgraded_and_a_current_or_missing_one_left_alone(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = Settings(state_dir=tmp_path, mlflow_backend_store_uri=uri)
    assert upgrade_mlflow_store(settings) is False  # no store yet: the server creates it
    old = _old_store(uri)
    assert store_revision(uri) == old != installed_head()
    messages: list[str] = []
    assert upgrade_mlflow_store(settings, messages.append) is True
    assert store_revision(uri) == installed_head()
    assert messages and old in messages[0]
    assert MlflowClient(tracking_uri=uri).search_experiments()  # the Default experiment
    assert upgrade_mlflow_store(settings) is False  # current: nothing to do
