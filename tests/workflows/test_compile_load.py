"""Compiled workflows load through Airflow's DagBag: many at once, broken ones fail alone."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from include.dag_factory.dag_builder import build_dag
from include.workflows.compiler import compile_workflow, compiled_paths, dag_id_for, remove_compiled
from include.workflows.graph import CompiledGraph
from include.workflows.model import Workflow
from include.workflows.templates_store import builtin_templates

REPO_DAGS = Path(__file__).resolve().parents[2] / "dags"


def dagbag(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder), safe_mode=True)


def test_200_generated_workflows_compile_and_load_without_import_errors(tmp_path, generated_workflows):
    docs = generated_workflows[:200]
    assert len(docs) == 200
    for doc in docs:
        compile_workflow(doc, tmp_path)
    bag = dagbag(tmp_path)
    assert bag.import_errors == {}
    assert len(bag.dags) == 200
    for doc in docs:
        dag = bag.dags[dag_id_for("gen", doc["id"])]
        assert {t.task_id for t in dag.tasks} == {n["id"] for n in doc["nodes"]}
        for e in doc["edges"]:
            assert e["target"] in dag.task_dict[e["source"]].downstream_task_ids


def test_one_broken_workflow_among_100_fails_alone_and_is_named(tmp_path, generated_workflows):
    docs = generated_workflows[:100]
    for doc in docs:
        compile_workflow(doc, tmp_path)
    # Break one spec on disk the way a bad hand edit or a half-migrated file would.
    spec_path, stub_path = compiled_paths("gen", "wf042", tmp_path)
    broken = json.loads(spec_path.read_text())
    trigger = next(n for n in broken["nodes"] if n["type"] == "trigger")
    trigger["config"]["event"] = "pr_merged"
    spec_path.write_text(json.dumps(broken))
    bag = dagbag(tmp_path)
    assert len(bag.dags) == 99
    assert dag_id_for("gen", "wf042") not in bag.dags
    assert list(bag.import_errors) == [str(stub_path)]
    message = bag.import_errors[str(stub_path)]
    assert "workflow gen/wf042 (gen__wf042.json)" in message
    assert "pr_merged" in message and "event" in message


def test_a_stub_compiled_before_the_renderer_moved_still_loads(tmp_path, valid_doc):
    """Runs execute from the bundle commit they started on, so stubs naming the old module keep loading."""
    compile_workflow(valid_doc, tmp_path)
    _, stub_path = compiled_paths("acme", "review", tmp_path)
    new = "from include.dag_factory.dag_builder import build_dag_from_file"
    assert new in stub_path.read_text()
    stub_path.write_text(stub_path.read_text().replace(new, new.replace("dag_factory", "workflows")))
    bag = dagbag(tmp_path)
    assert bag.import_errors == {}
    assert set(bag.dags) == {dag_id_for("acme", "review")}


def test_missing_or_unreadable_spec_is_an_import_error_naming_it(tmp_path, valid_doc):
    compile_workflow(valid_doc, tmp_path)
    spec_path, stub_path = compiled_paths("acme", "review", tmp_path)
    spec_path.write_text("{not json")
    assert "acme__review.json is not JSON" in dagbag(tmp_path).import_errors[str(stub_path)]
    spec_path.unlink()
    assert "acme__review.json is missing" in dagbag(tmp_path).import_errors[str(stub_path)]


def test_compile_writes_spec_and_stub_atomically_and_remove_deletes_both(tmp_path, valid_doc):
    spec_path = compile_workflow(valid_doc, tmp_path)
    _, stub_path = compiled_paths("acme", "review", tmp_path)
    assert spec_path.name == "acme__review.json" and stub_path.exists()
    assert Workflow.model_validate_json(spec_path.read_text()) == Workflow.model_validate(valid_doc)
    stub = stub_path.read_text()
    assert "build_dag_from_file(__file__)" in stub and "airflow" in stub.lower() and "dag" in stub.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acme__review.json", "acme__review.py"]  # no temp files
    assert remove_compiled("acme", "review", tmp_path) is True
    assert list(tmp_path.iterdir()) == []
    assert remove_compiled("acme", "review", tmp_path) is False


def test_compile_refuses_invalid_workflows(tmp_path, valid_doc):
    from include.workflows.validation import WorkflowInvalid

    valid_doc["edges"].append({"id": "loop", "source": "tell", "target": "qc"})
    with pytest.raises(WorkflowInvalid):
        compile_workflow(valid_doc, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_loader_builds_specs_kept_outside_the_dag_folder(workflows_dir, valid_doc):
    """dags/workflow_loader.py: specs outside the DAG folder load; a broken one is skipped, not fatal."""
    compile_workflow(valid_doc, workflows_dir)
    compile_workflow(dict(valid_doc, id="second"), workflows_dir)
    spec_path, _ = compiled_paths("acme", "second", workflows_dir)
    spec_path.write_text(spec_path.read_text().replace('"quality_check"', '"quality_chek"'))
    bag = dagbag(REPO_DAGS / "workflow_loader.py")
    assert bag.import_errors == {}
    assert set(bag.dags) == {dag_id_for("acme", "review")}


def test_loader_leaves_stubs_inside_the_dag_folder_to_airflow(tmp_path):
    from include.dag_factory.loader import load_external_workflows, parsed_by_airflow

    inside = tmp_path / "dags" / "workflows"
    inside.mkdir(parents=True)
    assert parsed_by_airflow(inside, tmp_path / "dags")
    assert not parsed_by_airflow(tmp_path / "elsewhere", tmp_path / "dags")
    assert load_external_workflows(inside, tmp_path / "dags") == {}


def test_dag_shape_schedule_tags_params_retries_and_docs(valid_doc):
    valid_doc["nodes"][1]["config"].update(retries=4, retry_delay_seconds=10, exponential_backoff=False, timeout_seconds=60)
    dag = build_dag(valid_doc)
    assert dag.dag_id == "autopr__acme__review"
    assert dag.schedule is None
    assert set(dag.tags) == {"autopr", "project:acme", "workflow:review", "version:1"}
    assert dag.params["project"] == "acme" and dag.params["workflow_version"] == 1
    from airflow.serialization.serialized_objects import DagSerialization

    serialized = dict(DagSerialization.to_dict(dag)["dag"]["params"])  # what the UI's trigger form shows
    assert set(serialized) == {"project", "workflow_id", "workflow_version", "event"}
    qc = dag.task_dict["qc"]
    assert (qc.retries, qc.retry_delay, qc.retry_exponential_backoff) == (4, timedelta(seconds=10), 0)
    assert qc.execution_timeout == timedelta(seconds=60)
    hook = dag.task_dict["hook"]
    assert hook.retry_exponential_backoff == 2.0 and hook.execution_timeout == timedelta(seconds=900)
    assert dag.task_dict["start"].task_type == "_ShortCircuitDecoratedOperator"
    assert dag.task_dict["gate"].task_type == "_BranchPythonDecoratedOperator"
    # tasks behind the condition (including the join) tolerate the skipped branch
    assert dag.task_dict["tell"].trigger_rule == "none_failed_min_one_success"
    assert dag.task_dict["comment"].trigger_rule == "none_failed_min_one_success"
    assert dag.task_dict["qc"].trigger_rule == "all_success"
    assert "```mermaid" in dag.doc_md and "| `qc` | action | quality_check | `start` |" in dag.doc_md

    valid_doc["nodes"][0]["config"] = {"event": "schedule", "cron": "*/15 * * * *"}
    scheduled = build_dag(valid_doc)
    assert scheduled.schedule == "*/15 * * * *"


def test_templates_compile(tmp_path):
    for item in builtin_templates():
        wf = item["workflow"].model_copy(update={"project": "demo"})
        cg = CompiledGraph.from_workflow(wf)
        assert cg.order[0] == wf.trigger.id
        compile_workflow(wf, tmp_path)
    bag = dagbag(tmp_path)
    assert bag.import_errors == {} and len(bag.dags) == 3


def test_analyser_tasks_share_the_analysers_pool_and_runs_are_capped(settings):
    from include.dag_factory.dag_builder import ANALYSER_ACTIONS

    for template in builtin_templates():
        workflow = template["workflow"].model_copy(update={"project": "demo"})
        dag = build_dag(workflow)
        assert dag.max_active_runs == settings.workflow_max_active_runs
        assert dag.max_active_tasks == settings.workflow_max_active_tasks
        for node in workflow.nodes:
            pool = dag.get_task(node.id).pool
            if node.type == "action" and node.config.action in ANALYSER_ACTIONS:
                assert pool == settings.analysers_pool, node.id
            else:
                assert pool != settings.analysers_pool, node.id
