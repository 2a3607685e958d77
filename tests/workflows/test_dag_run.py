"""Compiled DAGs really run (dag.test()): branches skip, joins run, the trigger gate short-circuits.

Only condition and dashboard-notification nodes are used: the dashboard
notification is the runtime's real implementation (it persists an execution
event in the app PostgreSQL database), so no code host is needed here.  The
templates' end-to-end runs live in tests/workflows_e2e.
"""

from __future__ import annotations

import json

import pytest

from include.dag_factory.dag_builder import build_dag_from_file
from include.db.session import session_scope
from include.workflows.compiler import compile_workflow


def dashboard(node_id: str, message: str) -> dict:
    return {"id": node_id, "type": "notification", "config": {"channel": "dashboard", "message": message}}


def branching(workflow_id: str, trigger: dict, expression: str) -> dict:
    return {
        "id": workflow_id,
        "name": "Branching",
        "project": "acme",
        "nodes": [
            {"id": "start", "type": "trigger", "config": trigger},
            {"id": "check", "type": "condition", "config": {"expression": expression}},
            dashboard("yes", "took the true branch for {repository}"),
            dashboard("no", "took the false branch"),
            {"id": "again", "type": "condition", "config": {"expression": "nodes.yes.level == 'info'"}},
            dashboard("deep_yes", "nested true"),
            dashboard("deep_no", "nested false"),
            dashboard("done", "finished"),
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "check"},
            {"id": "e2", "source": "check", "target": "yes", "branch": "true"},
            {"id": "e3", "source": "check", "target": "no", "branch": "false"},
            {"id": "e4", "source": "yes", "target": "again"},
            {"id": "e5", "source": "again", "target": "deep_yes", "branch": "true"},
            {"id": "e6", "source": "again", "target": "deep_no", "branch": "false"},
            {"id": "e7", "source": "deep_yes", "target": "done"},
            {"id": "e8", "source": "deep_no", "target": "done"},
            {"id": "e9", "source": "no", "target": "done"},
        ],
    }


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}


def notifications(dag_run) -> list[tuple[str, str]]:
    """(task, rendered message) of every dashboard notification that ran, from the tasks' XCom outputs."""
    sent = []
    for ti in dag_run.get_task_instances():
        outputs = ti.xcom_pull(task_ids=ti.task_id, key="return_value")
        if isinstance(outputs, dict) and outputs.get("channel") == "dashboard":
            sent.append((ti.task_id, outputs["message"]))
    return sorted(sent)


@pytest.fixture()
def bundle(workflows_dir, monkeypatch):
    """Make the compiled-workflows dir the DAG bundle dag.test() syncs.

    dag.test() first parses its bundle and writes it to the metadata DB; with the
    default bundle (the repo's dags/) that parses every other DAG of the project.
    Pointing it at the workflows dir keeps the test fast and also proves the
    stub file loads the DAG from inside a real bundle.
    """
    config = [{"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
               "kwargs": {"path": str(workflows_dir)}}]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(config))
    return workflows_dir


@pytest.fixture()
def project(db) -> str:
    from include.db.models import Project

    with session_scope() as session:
        session.add(Project(slug="acme", name="Acme"))
    return "acme"


def test_branching_workflow_skips_the_branch_not_taken(airflow_db, project, bundle):
    spec = branching("branchy", {"event": "pr_opened", "branches": ["main"]}, "event.pr_number > 5 && 'bug' in event.labels")
    dag = build_dag_from_file(compile_workflow(spec))
    event = {"repository": "acme/app", "pr_number": 7, "base_ref": "main", "labels": ["bug"]}
    dag_run = dag.test(run_conf={"event": event})
    got = states(dag_run)
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "success", got
    assert got == {
        "start": "success",
        "check": "success",
        "yes": "success",
        "no": "skipped",
        "again": "success",
        "deep_yes": "success",
        "deep_no": "skipped",
        "done": "success",  # the join runs although one of its parents was skipped
    }
    sent = notifications(dag_run)
    assert ("yes", "took the true branch for acme/app") in sent
    assert {task for task, _ in sent} == {"yes", "deep_yes", "done"}
    outputs = {ti.task_id: ti for ti in dag_run.get_task_instances()}
    assert outputs["check"].xcom_pull(task_ids="check", key="outputs") == {"result": True}


def test_false_branch_and_trigger_filters(airflow_db, project, bundle):
    spec = branching("gated", {"event": "pr_opened", "branches": ["main"]}, "event.pr_number > 5")
    dag = build_dag_from_file(compile_workflow(spec))

    false_run = dag.test(run_conf={"event": {"repository": "acme/app", "pr_number": 2, "base_ref": "main"}})
    got = states(false_run)
    assert got["no"] == "success" and got["yes"] == "skipped" and got["done"] == "success", got
    assert got["again"] == "skipped" and got["deep_yes"] == "skipped" and got["deep_no"] == "skipped", got

    # A PR into another branch does not pass the trigger's filters: the whole run is skipped.
    filtered = dag.test(run_conf={"event": {"repository": "acme/app", "pr_number": 9, "base_ref": "develop"}})
    got = states(filtered)
    assert got.pop("start") == "success"
    assert set(got.values()) == {"skipped"}, got
    assert notifications(false_run) == [("done", "finished"), ("no", "took the false branch")]
    assert notifications(filtered) == []
