"""Every file under dags/ imports through Airflow's own DagBag with zero import errors."""

from __future__ import annotations

from include.settings import REPO_ROOT


def test_dags_folder_imports_cleanly():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}, bag.import_errors
    assert bag.dags, "expected at least one DAG in dags/"
    for dag_id, dag in bag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
