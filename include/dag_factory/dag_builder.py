"""Render a validated workflow as an Airflow DAG (the last step of parse -> graph -> render).

One task per node, one dependency per edge:

* the **trigger** becomes a ``@task.short_circuit`` gate: it normalises the
  run's event (``conf["event"]``) and checks the trigger's filters; when they
  do not match, every other task is skipped;
* **conditions** become ``@task.branch`` tasks evaluating their CEL
  expression; the branch not taken shows as skipped, and tasks behind a
  condition use ``none_failed_min_one_success`` so joins after a branch run;
* **actions, integrations and notifications** become ``@task`` tasks calling
  ``include.actions.run_node`` with a RunContext built from the event and the
  XCom outputs of every ancestor node.  Retries, backoff and timeout come from
  the node's config.

Nothing here touches a database or the network at parse time, and
``include.actions`` is imported only inside the task callables, so a DAG
parses even on a machine where the runtime's dependencies are missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, get_current_context, task
from airflow.sdk.definitions.param import ParamsDict

from include.auth.airflow_roles import dag_access_control
from include.settings import get_settings
from include.workflows.graph import CompiledGraph, subtype
from include.workflows.model import Workflow, dag_id_for
from include.workflows.validation import WorkflowInvalid, load_workflow

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")
CONDITION_OUTPUTS_KEY = "outputs"  # @task.branch returns task ids; a condition's own outputs go here
JOIN_RULE = "none_failed_min_one_success"

# Actions that run the CPU-bound analysers on a checkout: they share one Airflow pool across every worker,
# so adding workflows or runs queues analyser work instead of oversubscribing the workers' cores.
ANALYSER_ACTIONS = frozenset({"quality_check", "code_review"})
MAX_RETRY_DELAY = timedelta(hours=1)


class _Run:
    """What every task of one compiled workflow knows about its DAG (closed over, not templated)."""

    __slots__ = ("conditions", "dag_id", "project", "trigger_id", "version", "workflow_id")

    def __init__(self, workflow: Workflow, conditions: set[str]):
        self.project = workflow.project
        self.workflow_id = workflow.id
        self.version = workflow.version
        self.dag_id = dag_id_for(workflow.project, workflow.id)
        self.trigger_id = workflow.trigger.id
        self.conditions = conditions

    def upstream(self, ti: Any, ancestors: list[str]) -> dict[str, dict[str, Any]]:
        """Outputs of every ancestor that ran (skipped ones have no XCom and are left out)."""
        out: dict[str, dict[str, Any]] = {}
        for node_id in ancestors:
            key = CONDITION_OUTPUTS_KEY if node_id in self.conditions else "return_value"
            value = ti.xcom_pull(task_ids=node_id, key=key)
            if isinstance(value, dict):
                out[node_id] = value
        return out

    def context(self, ancestors: list[str]) -> tuple[Any, dict[str, Any], dict[str, dict[str, Any]]]:
        ctx = get_current_context()
        upstream = self.upstream(ctx["ti"], ancestors)
        event = (upstream.get(self.trigger_id) or {}).get("event") or {}
        return ctx, event, upstream


def _trigger_callable(run: _Run, node: Any) -> Callable[[], Any]:
    config = node.config

    def check_trigger() -> dict[str, Any] | bool:
        """Normalise the run's event and apply the trigger filters (False skips the whole run)."""
        from include.workflows.triggers import event_for_run, trigger_matches

        ctx = get_current_context()
        conf_event = (ctx["params"] or {}).get("event")
        dag_run = ctx.get("dag_run")
        if dag_run is not None and isinstance(getattr(dag_run, "conf", None), dict) and "event" in dag_run.conf:
            conf_event = dag_run.conf["event"]
        event = event_for_run(config, conf_event)
        matched, reason = trigger_matches(config, event)
        if not matched:
            print(f"trigger {node.id!r} filters do not match: {reason}; skipping the run")
            return False
        return {"event": event}

    return check_trigger


def _condition_callable(run: _Run, node: Any, ancestors: list[str], branches: dict[str, list[str]]) -> Callable:
    expression = node.config.expression

    def evaluate_condition() -> list[str]:
        """Evaluate the CEL expression over the event and upstream outputs; follow one branch."""
        from include.workflows.expressions import ExpressionError, evaluate

        ctx, event, upstream = run.context(ancestors)
        try:
            result = evaluate(expression, {"event": event, "nodes": upstream})
        except ExpressionError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"condition {node.id!r}: {exc}") from None
        ctx["ti"].xcom_push(key=CONDITION_OUTPUTS_KEY, value={"result": result})
        chosen = "true" if result else "false"
        print(f"condition {node.id!r}: {expression} -> {result}; following the {chosen!r} branch")
        return list(branches[chosen])

    return evaluate_condition


def _node_callable(run: _Run, node: Any, ancestors: list[str]) -> Callable[[], dict[str, Any]]:
    node_dict = node.model_dump(mode="json", exclude_none=True)

    def run_workflow_node() -> dict[str, Any]:
        """Run this node through include.actions.run_node; its outputs become the task's XCom."""
        from include.actions import ActionFailed, RunContext, run_node

        ctx, event, upstream = run.context(ancestors)
        run_ctx = RunContext(
            project=run.project,
            workflow_id=run.workflow_id,
            workflow_version=run.version,
            dag_id=run.dag_id,
            run_id=ctx["run_id"],
            event=event,
            upstream=upstream,
        )
        try:
            return run_node(node_dict, run_ctx)
        except ActionFailed as exc:
            if exc.retryable:
                raise
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from exc  # retrying cannot help: fail now

    return run_workflow_node


def _retry_kwargs(config: Any) -> dict[str, Any]:
    return {
        "retries": config.retries,
        "retry_delay": timedelta(seconds=config.retry_delay_seconds),
        "retry_exponential_backoff": 2.0 if config.exponential_backoff else 0,
        "max_retry_delay": MAX_RETRY_DELAY,
        "execution_timeout": timedelta(seconds=config.timeout_seconds),
    }


def render_doc(cg: CompiledGraph) -> str:
    """DAG docs: what the workflow is, a node table and the graph as Mermaid."""
    wf = cg.workflow
    lines = [
        f"# {wf.name}",
        "",
        wf.description or "_No description._",
        "",
        (
            f"AutoPR workflow `{wf.id}` in project `{wf.project}`, version {wf.version}. "
            "Compiled from the platform's workflow store; edit it there, not here."
        ),
        "",
        "| node | type | what | runs after |",
        "| --- | --- | --- | --- |",
    ]
    for nid in cg.order:
        node = cg.nodes[nid]
        after = ", ".join(f"`{p}`" for p in cg.graph.parents(nid)) or "—"
        name = f"**{node.display_name}** (`{nid}`)" if node.label else f"`{nid}`"
        lines.append(f"| {name} | {node.type} | {subtype(node)} | {after} |")
    lines += ["", "```mermaid", cg.mermaid(), "```"]
    return "\n".join(lines)


def build_dag(spec: Workflow | dict[str, Any]) -> DAG:
    """The Airflow DAG of a workflow (validated first; WorkflowInvalid lists every problem)."""
    workflow = load_workflow(spec)
    cg = CompiledGraph.from_workflow(workflow)
    run = _Run(workflow, set(cg.branches))
    trigger = workflow.trigger
    schedule = trigger.config.cron if trigger.config.event == "schedule" else None
    limits = get_settings()

    dag = DAG(
        dag_id=run.dag_id,
        dag_display_name=f"{workflow.name} ({workflow.project})",
        description=(workflow.description or workflow.name)[:500],
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        is_paused_upon_creation=False,
        max_active_runs=limits.workflow_max_active_runs,
        max_active_tasks=limits.workflow_max_active_tasks,
        tags=["autopr", f"project:{workflow.project}", f"workflow:{workflow.id}", f"version:{workflow.version}"],
        doc_md=render_doc(cg),
        # With the FAB auth manager Airflow shows and runs the DAG only for its project's roles
        # (include/auth/airflow_roles.py); derived from the slug alone, nothing is looked up at parse time.
        access_control=dag_access_control(workflow.project) if limits.airflow_auth_manager == "fab" else None,
    )
    with dag:
        tasks: dict[str, Any] = {}
        for nid in cg.order:
            node = cg.nodes[nid]
            # owner per task rather than default_args: Airflow deep-copies default_args into every task
            common: dict[str, Any] = {"task_id": nid, "multiple_outputs": False, "owner": "autopr"}
            if node.label:
                common["task_display_name"] = node.label
            if nid in cg.behind_condition:
                common["trigger_rule"] = JOIN_RULE
            if node.type == "action" and node.config.action in ANALYSER_ACTIONS:
                common["pool"] = limits.analysers_pool
            if node.type == "trigger":
                op = task.short_circuit(ignore_downstream_trigger_rules=True, retries=0, **common)(
                    _trigger_callable(run, node)
                )()
            elif node.type == "condition":
                op = task.branch(retries=0, **common)(
                    _condition_callable(run, node, cg.ancestors(nid), cg.branches[nid])
                )()
            else:
                op = task(**common, **_retry_kwargs(node.config))(_node_callable(run, node, cg.ancestors(nid)))()
            tasks[nid] = op
        for edge in workflow.edges:
            tasks[edge.source] >> tasks[edge.target]
    # Params are set after the tasks exist: Airflow deep-copies DAG params into every task it
    # creates (a third of the parse time of a 5-task DAG), while at run time it merges
    # dag.params, task.params and conf anyway (airflow.sdk.definitions.param.process_params).
    dag.params = ParamsDict(
        {
            "project": workflow.project,
            "workflow_id": workflow.id,
            "workflow_version": workflow.version,
            "event": Param(
                {},
                type="object",
                description="The event this run is about (a CodeHostEvent: kind, repository, pr_number, ...).",
            ),
        }
    )
    return dag


class WorkflowLoadError(RuntimeError):
    """A compiled workflow file could not become a DAG; the message names the workflow and the file."""


def build_dag_from_file(path: str | Path) -> DAG:
    """Build the DAG of a compiled spec; ``path`` is the spec (.json) or its stub (.py) next to it.

    Errors name the workflow file and every problem, so the import error Airflow
    shows for the stub says which workflow is broken and why.
    """
    spec_path = Path(path).with_suffix(".json")
    try:
        raw = spec_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkflowLoadError(
            f"workflow spec {spec_path.name} is missing; recompile the workflow or delete {Path(path).name}"
        ) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise WorkflowLoadError(f"workflow spec {spec_path.name} is not JSON: {exc}") from None
    who = spec_path.stem
    if isinstance(data, dict) and isinstance(data.get("project"), str) and isinstance(data.get("id"), str):
        who = f"{data['project']}/{data['id']}"
    try:
        return build_dag(data)
    except WorkflowInvalid as exc:  # the message lists every problem; the traceback adds nothing
        raise WorkflowLoadError(f"workflow {who} ({spec_path.name}) cannot be loaded: {exc}") from None
    except Exception as exc:
        raise WorkflowLoadError(f"workflow {who} ({spec_path.name}) cannot be loaded: {exc}") from exc
