"""Dry runs: a workflow run on a real event with every code-host write captured instead of sent.

The editor's *Dry run* has two halves.  Without an event it shows the DAG a
workflow compiles to (``POST /api/v1/workflows/dry-run``, nothing runs).  With
an event — a stored webhook delivery or a past pull request — it runs the
workflow's stored version on that event and shows what it would have posted:
this module is that run.

Why one shared DAG (:data:`DRY_RUN_DAG_ID`) rather than the workflow's own:

* a disabled workflow has no DAG (only enabled workflows are compiled, and
  webhooks never start disabled ones) and must stay that way, yet it is
  exactly the workflow one wants to try before enabling it;
* a run of the workflow's own DAG is a real run to Airflow, the live
  dashboard and the learning loop; a dry run must not pass for one, and its
  DAG must have no mode in which it posts: this DAG only ever captures.

Its one task (:func:`execute_dry_run`) loads the stored version the API
pinned, then walks the compiled graph (:class:`include.workflows.graph.CompiledGraph`)
in topological order with the rules the DAG builder gives Airflow
(:mod:`include.dag_factory.dag_builder`): the trigger normalises the event and
applies its filters (no match: every other node is skipped); a condition
evaluates its CEL expression and the branch not taken is skipped (a join
downstream of the branch taken is not); a node not
behind a condition runs when all its parents succeeded, one behind a condition
when none failed and at least one succeeded; retries follow the node's config.
Action nodes run through the same :func:`include.actions.run_node` as in a
real run, with ``RunContext.capture`` set, so the code-host client reads for
real (diff, files, the bot's earlier comments) and captures every write
(:mod:`include.codehost.capture`).  Notifications are captured too (rendered,
not sent); integration calls go out only when they are reads (GET/HEAD).

The review session ``quality_check`` and ``code_review`` store in the app
database while the dry run walks (``publish_review`` reads its findings from
there) is recorded under this DAG's id and the dry run's run id, and deleted
when the walk ends: what it would have posted is in the captured writes, and
a dry run must leave no review behind for the dashboard, the outcomes or the
learning export to count.

The API inserts the :class:`include.db.models.DryRun` row (``queued``) and
starts this DAG with ``conf = {"dry_run": true, "dry_run_id": ...,
"project", "workflow_id", "workflow_version", "event"}``; the task keeps the
row's node states and captured writes current after every node, so the editor
can show progress, and ends it ``success`` or ``failed``.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

from include.workflows.model import dag_id_for

log = logging.getLogger(__name__)

DRY_RUN_DAG_ID = "autopr_dry_run"
#: Node outputs longer than this (as JSON) are not kept on the dry run row (the writes are what matters).
OUTPUTS_KEPT_CHARS = 4000
MAX_RETRY_DELAY = timedelta(hours=1)
READ_METHODS = frozenset({"GET", "HEAD"})


class DryRunError(RuntimeError):
    """A dry run could not run at all (bad conf, unknown row or version); the message says which."""


def dry_run_conf(dry_run_id: int, project: str, workflow_id: str, version: int, event: dict[str, Any]) -> dict:
    """The DAG-run conf the API starts a dry run with (the task reads nothing else)."""
    return {"dry_run": True, "dry_run_id": dry_run_id, "project": project, "workflow_id": workflow_id,
            "workflow_version": version, "event": event}


# --- walking the graph ------------------------------------------------------------------------------


def _kept(outputs: Any) -> Any:
    try:
        text = json.dumps(outputs)
    except (TypeError, ValueError):
        return None
    return outputs if len(text) <= OUTPUTS_KEPT_CHARS else None



def _captured_notification(node_id: str, config: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """A notification in a dry run: rendered as it would be sent, recorded, not sent."""
    from include.actions.templating import render

    field = "message" if config.get("message") is not None else "template"
    text = render(node_id, field, config.get(field) or "{summary}", ctx).strip()
    channel = config.get("channel", "dashboard")
    body = {"channel": channel, "message": text, "level": config.get("level"),
            "to": config.get("to"), "subject": config.get("subject"), "connection_id": config.get("connection_id")}
    ctx.capture.record("NOTIFY", f"notification:{channel}", {k: v for k, v in body.items() if v is not None})
    return {"channel": channel, "sent": False, "dry_run": True}


def _run_action(node: Any, ctx: Any) -> dict[str, Any]:
    from include.actions import run_node
    from include.actions.templating import render_tree

    node_dict = node.model_dump(mode="json", exclude_none=True)
    config = node_dict.get("config") or {}
    if node.type == "notification":
        return _captured_notification(node.id, config, ctx)
    if node.type == "integration" and str(config.get("method", "POST")).upper() not in READ_METHODS:
        endpoint = render_tree(node.id, "endpoint", config.get("endpoint") or "", ctx)
        ctx.capture.record(str(config.get("method", "POST")).upper(),
                           f"integration:{config.get('connection_id')}{endpoint}",
                           render_tree(node.id, "body", config.get("body"), ctx))
        return {"status_code": None, "response_json": None, "response_text": None, "sent": False, "dry_run": True}
    return run_node(node_dict, ctx)


def _with_retries(node: Any, attempt: Any) -> Any:
    """Call ``attempt`` with the node's retries (what Airflow does for its task), then give up."""
    from include.actions import ActionFailed

    config = node.config
    retries = getattr(config, "retries", 0) or 0
    delay = float(getattr(config, "retry_delay_seconds", 30) or 30)
    for try_number in range(retries + 1):
        try:
            return attempt()
        except ActionFailed as exc:
            if not exc.retryable or try_number == retries:
                raise
            last = exc
        except Exception as exc:  # noqa: BLE001 - Airflow retries any task error too
            if try_number == retries:
                raise
            last = exc
        wait = delay * (2 ** try_number if getattr(config, "exponential_backoff", False) else 1)
        wait = min(wait, MAX_RETRY_DELAY.total_seconds())
        log.warning("dry run node %s: try %d failed (%s); retrying in %.0fs", node.id, try_number + 1, last, wait)
        time.sleep(wait)
    raise AssertionError("unreachable")


def walk(workflow: Any, conf_event: Any, *, run_id: str, capture: Any, on_progress: Any = None) -> dict[str, Any]:
    """Run every node of ``workflow`` on ``conf_event`` with writes captured; returns ``{"nodes", "failed", "detail"}``.

    ``on_progress(nodes)`` is called after every node (the row is updated there).
    """
    from include.actions import RunContext
    from include.workflows.expressions import ExpressionError, evaluate
    from include.workflows.graph import CompiledGraph
    from include.workflows.triggers import EventError, event_for_run, trigger_matches

    cg = CompiledGraph.from_workflow(workflow)
    nodes: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    chosen: dict[str, list[str]] = {}  # condition id -> what the branch it took keeps (its targets, their descendants)
    detail = ""
    event: dict[str, Any] = {}

    def progress() -> None:
        if on_progress is not None:
            on_progress(nodes)

    for nid in cg.order:
        node = cg.nodes[nid]
        capture.node_id = nid
        if node.type == "trigger":
            try:
                event = event_for_run(node.config, conf_event)
            except EventError as exc:
                nodes[nid] = {"state": "failed", "error": str(exc)}
                detail = f"trigger {nid!r}: {exc}"
                progress()
                continue
            matched, reason = trigger_matches(node.config, event)
            if not matched:
                nodes[nid] = {"state": "success", "matched": False, "reason": reason}
                detail = f"trigger {nid!r} filters do not match: {reason}; nothing would have run"
                for other in cg.order:
                    nodes.setdefault(other, {"state": "skipped", "reason": "trigger filters do not match"})
                progress()
                break
            nodes[nid] = {"state": "success", "matched": True}
            outputs[nid] = {"event": event}
            progress()
            continue

        parents = cg.graph.parents(nid)
        states = [nodes.get(p, {}).get("state") for p in parents]
        if any(p in chosen and nid not in chosen[p] for p in parents):
            nodes[nid] = {"state": "skipped", "reason": "branch not taken"}
        elif any(s in ("failed", "upstream_failed") for s in states):
            nodes[nid] = {"state": "upstream_failed"}
        elif (all(s == "success" for s in states) if nid not in cg.behind_condition
              else any(s == "success" for s in states)):
            upstream = {a: outputs[a] for a in cg.ancestors(nid) if a in outputs}
            ctx = RunContext(project=workflow.project, workflow_id=workflow.id, workflow_version=workflow.version,
                             dag_id=DRY_RUN_DAG_ID, run_id=run_id, event=event, upstream=upstream, capture=capture)
            try:
                if node.type == "condition":
                    result = evaluate(node.config.expression, {"event": event, "nodes": upstream})
                    out = {"result": result}
                    # Airflow's branch skips the direct children not followed, except those downstream of a
                    # followed one (a join after the branch runs): SkipMixin.skip_all_except.
                    followed = set(cg.branches.get(nid, {}).get("true" if result else "false", []))
                    for target in list(followed):
                        followed |= cg.graph.descendants(target)
                    chosen[nid] = sorted(followed)
                else:
                    out = _with_retries(node, lambda node=node, ctx=ctx: _run_action(node, ctx))
            except ExpressionError as exc:
                nodes[nid] = {"state": "failed", "error": f"condition {nid!r}: {exc}"}
            except Exception as exc:  # noqa: BLE001 - a node's failure is the dry run's result, not a crash
                nodes[nid] = {"state": "failed", "error": str(exc)}
            else:
                outputs[nid] = out
                nodes[nid] = {"state": "success", "outputs": _kept(out)}
        else:
            nodes[nid] = {"state": "skipped"}
        progress()
    capture.node_id = None
    failed = [n for n, s in nodes.items() if s.get("state") == "failed"]
    if failed and not detail:
        detail = "; ".join(f"{n}: {nodes[n].get('error')}" for n in failed)[:2000]
    return {"nodes": nodes, "failed": bool(failed), "detail": detail}


# --- the task ---------------------------------------------------------------------------------------


def _load(conf: Any) -> tuple[int, Any]:
    """(dry run row id, the pinned workflow version as a Workflow), or DryRunError saying what is wrong."""
    from sqlalchemy import select

    from include.db.models import DryRun, Project, Workflow, WorkflowVersion
    from include.db.session import session_scope
    from include.workflows.validation import WorkflowInvalid, load_workflow

    if not isinstance(conf, dict) or conf.get("dry_run") is not True:
        raise DryRunError('conf.dry_run must be true: dry runs are started by POST '
                          '/api/v1/projects/{project}/workflows/{workflow}/dry-runs')
    row_id = conf.get("dry_run_id")
    if not isinstance(row_id, int):
        raise DryRunError("conf.dry_run_id (the dry run's id) is required")
    with session_scope() as session:
        row = session.get(DryRun, row_id)
        if row is None:
            raise DryRunError(f"conf.dry_run_id: dry run {row_id} does not exist")
        spec = session.scalar(
            select(WorkflowVersion.spec).join(Workflow, Workflow.id == WorkflowVersion.workflow_id)
            .join(Project, Project.id == Workflow.project_id)
            .where(Workflow.id == row.workflow_id, WorkflowVersion.version == row.workflow_version)
        )
        if spec is None:
            raise DryRunError(f"dry run {row_id}: workflow version {row.workflow_version} is not stored")
    try:
        return row_id, load_workflow(spec)
    except WorkflowInvalid as exc:
        raise DryRunError(f"dry run {row_id}: the stored workflow no longer validates: {exc}") from None


def _update(row_id: int, **values: Any) -> None:
    from include.db.models import DryRun
    from include.db.session import session_scope

    with session_scope() as session:
        row = session.get(DryRun, row_id)
        for key, value in values.items():
            setattr(row, key, value)


def _forget_reviews(run_id: str) -> None:
    """Delete the review sessions (and their issues) the walk's analysers stored for this dry run."""
    from sqlalchemy import delete

    from include.db.models import ReviewSession
    from include.db.session import session_scope

    with session_scope() as session:
        session.execute(delete(ReviewSession).where(ReviewSession.dag_id == DRY_RUN_DAG_ID,
                                                    ReviewSession.run_id == run_id))


def execute_dry_run(conf: Any, run_id: str) -> dict[str, Any]:
    """The dry-run task: run the pinned workflow version on the conf's event, store what it would have written.

    Returns the row's final ``{"state", "nodes", "writes", "detail"}``; a dry
    run whose nodes failed is stored ``failed`` (its writes up to there kept).
    """
    from include.codehost.capture import CapturedWrites
    from include.db.models import DryRun, utcnow
    from include.db.session import session_scope

    row_id, workflow = _load(conf)
    with session_scope() as session:
        row = session.get(DryRun, row_id)
        planned_run = row.run_id
        event = row.event or conf.get("event") or {}
    note = "" if planned_run == run_id else f"executed by Airflow run {run_id!r}; "
    capture = CapturedWrites()
    _update(row_id, state="running", started_at=utcnow(), finished_at=None, nodes={}, writes=[], detail=note)

    def progress(nodes: dict[str, Any]) -> None:
        _update(row_id, nodes=json.loads(json.dumps(nodes)), writes=capture.as_list())

    try:
        result = walk(workflow, event, run_id=planned_run, capture=capture, on_progress=progress)
    except Exception as exc:
        _update(row_id, state="failed", finished_at=utcnow(), writes=capture.as_list(),
                detail=(note + f"{type(exc).__name__}: {exc}")[:2000])
        raise
    finally:
        _forget_reviews(planned_run)
    state = "failed" if result["failed"] else "success"
    final = {"state": state, "nodes": json.loads(json.dumps(result["nodes"])), "writes": capture.as_list(),
             "detail": (note + result["detail"])[:2000]}
    _update(row_id, finished_at=utcnow(), **final)
    log.info("dry run %s of %s: %s, %d write(s) captured", row_id, dag_id_for(workflow.project, workflow.id), state,
             len(final["writes"]))
    return final


def build_dry_run_dag():
    """The one dry-run DAG (``dags/autopr_dry_run.py``): a single task running :func:`execute_dry_run`."""
    from airflow.sdk import DAG, get_current_context, task

    from include.dag_factory.dag_builder import START_DATE
    from include.settings import get_settings

    limits = get_settings()
    with DAG(
        dag_id=DRY_RUN_DAG_ID,
        dag_display_name="AutoPR dry runs",
        description="Workflow runs on stored events with every code-host write captured instead of sent",
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        is_paused_upon_creation=False,
        max_active_runs=limits.workflow_max_active_runs,
        tags=["autopr", "dry-run"],
        doc_md=__doc__,
    ) as dag:

        @task(task_id="dry_run", retries=0, pool=limits.analysers_pool, owner="autopr")
        def dry_run() -> dict[str, Any]:
            """Run the workflow version named in conf on its event; writes are captured, never sent."""
            ctx = get_current_context()
            dag_run = ctx.get("dag_run")
            conf = getattr(dag_run, "conf", None) or {}
            try:
                final = execute_dry_run(conf, ctx["run_id"])
            except DryRunError as exc:
                from airflow.sdk.exceptions import AirflowFailException

                raise AirflowFailException(str(exc)) from None
            summary = {"state": final["state"], "writes": len(final["writes"]), "detail": final["detail"]}
            if final["state"] == "failed":
                from airflow.sdk.exceptions import AirflowFailException

                raise AirflowFailException(f"dry run failed: {final['detail']}")
            return summary

        dry_run()
    return dag
