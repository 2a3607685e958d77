"""Airflow listener: task-instance and DAG-run state changes → :class:`StateEvent` → outbox.

Registered by ``plugins/autopr_plugin.py`` (``listeners = [listener]``).
Where the hooks run:

* task hooks (running / success / failed / skipped) run inside the task
  process on the worker, which has no metadata-DB access, and block the task
  while they run;
* DAG-run hooks (running / success / failed) run in the scheduler (and in the
  API server when a user sets a state by hand).

So every hook here does one thing: build the event from attributes already in
memory and hand it to the outbox (:mod:`include.events.outbox`: a Redis
``XADD`` with the short ``events_redis_timeout_ms``, or an append to a local
SQLite file) — no database query, no blocking network call.  Every hook is wrapped so an
error is logged and swallowed: a broken dashboard must never fail a task.

States no hook reports (queued, upstream_failed, scheduler-decided skips) are
filled in by :mod:`include.events.reconcile` from Airflow's REST API.
"""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime
from typing import Any

from airflow.listeners import hookimpl

from include.events.outbox import get_outbox
from include.events.schema import DEFAULT_PROJECT, StateEvent, project_from_tags

log = logging.getLogger(__name__)

ERROR_MAX_CHARS = 1000
_HOSTNAME = socket.gethostname()
_projects: dict[str, str] = {}  # dag_id -> project, per process
_last_error_log = 0.0


def _outbox():
    # Imported at module level on purpose: the plugin loads this module before any task
    # runs, so the first hook call in a fresh task process does not pay for the import.
    return get_outbox()


def _import_transport() -> None:
    """Import the Redis client now when Redis is configured.

    Why: ``import redis`` is slow in a cold process (far above a hook's budget), and
    each task runs in a fresh process; done lazily it would land inside the task's
    first hook call.
    Loading the plugin happens before the task starts, so the cost moves out of the
    task's run time.  Never raises: a bad setting shows up (and is logged) at the
    first hook call instead.
    """
    try:
        from include.settings import get_settings

        if get_settings().redis_url:
            import redis  # noqa: F401
    except Exception:  # noqa: BLE001 - reported again by the first hook that needs it
        log.debug("AutoPR event listener: transport not imported early", exc_info=True)


_import_transport()


def _log_failure(what: str) -> None:
    """Log a swallowed error, at most once a second (a broken setup must not flood task logs)."""
    global _last_error_log
    now = time.monotonic()
    if now - _last_error_log >= 1.0:
        _last_error_log = now
        log.warning("AutoPR event listener: %s failed; the task is not affected", what, exc_info=True)


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return None


def _state_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _remember_project(dag_id: str, tags: Any) -> str:
    """The project of ``tags``, cached per DAG id only once the DAG has tags.

    Why not cache an empty answer: a DAG seen before its tags are (a DagModel
    loaded while a first parse is still writing them) would be filed under the
    fallback project for the life of the process -- and since an event's key
    does not hold its project, the reconciler's correctly filed copy of the same
    state is then dropped as a duplicate.  Every DAG the platform ships or
    compiles has tags, so a written set of tags is cached and the hooks do not
    read the DagModel again.
    """
    project = project_from_tags(tags)
    if tags:
        _projects[dag_id] = project
    return project


def _project_of_dag(dag: Any, dag_id: str) -> str:
    cached = _projects.get(dag_id)
    if cached is not None:
        return cached
    if dag is None:
        return DEFAULT_PROJECT
    return _remember_project(dag_id, getattr(dag, "tags", None))


def _project_from_dag_model(obj: Any, dag_id: str) -> str:
    """Scheduler / API server only (they have DB access): tags from the ORM ``dag_model`` relationship."""
    cached = _projects.get(dag_id)
    if cached is not None:
        return cached
    try:
        tags = getattr(getattr(obj, "dag_model", None), "tags", None)
    except Exception:  # noqa: BLE001 - detached instance or no DB: fall back
        tags = None
    return _remember_project(dag_id, tags)


def _ti_project(ti: Any) -> str:
    """Worker: the DAG object hangs off ``ti.task``.  API server (a user set the state): the ORM row."""
    task = getattr(ti, "task", None)
    dag = getattr(task, "dag", None) if task is not None else None
    if dag is not None and getattr(dag, "tags", None) is not None:
        return _project_of_dag(dag, ti.dag_id)
    return _project_from_dag_model(ti, ti.dag_id)


def _dag_run_project(dag_run: Any) -> str:
    dag = getattr(dag_run, "dag", None)
    if dag is not None:
        return _project_of_dag(dag, dag_run.dag_id)
    return _project_from_dag_model(dag_run, dag_run.dag_id)


def task_instance_event(ti: Any, state: str, previous_state: Any = None, error: Any = None) -> StateEvent:
    """The event for one task-instance state change (pure: reads attributes only)."""
    now = datetime.now(UTC)
    start = getattr(ti, "start_date", None)
    end = getattr(ti, "end_date", None)
    task = getattr(ti, "task", None)
    payload: dict[str, Any] = {
        "source": "listener",
        "previous_state": _state_name(previous_state),
        "start_date": _iso(start),
        "end_date": _iso(end) or (now.isoformat() if state not in ("running",) else None),
        "operator": getattr(ti, "operator", None) or (type(task).__name__ if task is not None else None),
        "hostname": _HOSTNAME,
        "max_tries": getattr(ti, "max_tries", None),
    }
    if isinstance(start, datetime) and state != "running":
        payload["duration"] = round(((end if isinstance(end, datetime) else now) - start).total_seconds(), 3)
    if error is not None:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        payload["error"] = text[:ERROR_MAX_CHARS]
    return StateEvent(
        event_type="task_instance",
        project=_ti_project(ti),
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        map_index=-1 if getattr(ti, "map_index", None) is None else int(ti.map_index),
        try_number=int(getattr(ti, "try_number", 0) or 0),
        state=state,
        occurred_at=now,
        payload=payload,
    )


def dag_run_event(dag_run: Any, state: str, msg: str | None = None) -> StateEvent:
    """The event for one DAG-run state change (pure: reads attributes only)."""
    now = datetime.now(UTC)
    payload = {
        "source": "listener",
        "msg": msg,
        "run_type": _state_name(getattr(dag_run, "run_type", None)),
        "logical_date": _iso(getattr(dag_run, "logical_date", None)),
        "start_date": _iso(getattr(dag_run, "start_date", None)),
        "end_date": _iso(getattr(dag_run, "end_date", None)),
    }
    return StateEvent(
        event_type="dag_run",
        project=_dag_run_project(dag_run),
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        state=state,
        occurred_at=now,
        payload=payload,
    )


def _emit_ti(ti: Any, state: str, previous_state: Any = None, error: Any = None) -> None:
    try:
        _outbox().put(task_instance_event(ti, state, previous_state, error))
    except Exception:  # noqa: BLE001 - a listener must never raise into a task
        _log_failure(f"task-instance {state} event")


def _emit_dag_run(dag_run: Any, state: str, msg: str | None) -> None:
    try:
        _outbox().put(dag_run_event(dag_run, state, msg))
    except Exception:  # noqa: BLE001
        _log_failure(f"dag-run {state} event")


# --------------------------------------------------------------------------- hooks


@hookimpl
def on_task_instance_running(previous_state, task_instance):
    _emit_ti(task_instance, "running", previous_state)


@hookimpl
def on_task_instance_success(previous_state, task_instance):
    _emit_ti(task_instance, "success", previous_state)


@hookimpl
def on_task_instance_failed(previous_state, task_instance, error):
    # Airflow calls this hook for both a final failure and a failure that will be
    # retried; the task instance's own state tells them apart.
    state = "failed"
    try:
        current = _state_name(getattr(task_instance, "state", None))
        if current == "up_for_retry":
            state = current
    except Exception:  # noqa: BLE001
        pass
    _emit_ti(task_instance, state, previous_state, error)


@hookimpl
def on_task_instance_skipped(previous_state, task_instance):
    _emit_ti(task_instance, "skipped", previous_state)


@hookimpl
def on_dag_run_running(dag_run, msg):
    _emit_dag_run(dag_run, "running", msg)


@hookimpl
def on_dag_run_success(dag_run, msg):
    _emit_dag_run(dag_run, "success", msg)


@hookimpl
def on_dag_run_failed(dag_run, msg):
    _emit_dag_run(dag_run, "failed", msg)


@hookimpl
def on_starting(component):
    """When a task process (or the scheduler) starts: open the outbox's connection before any hook needs it.

    The task runner calls this in the task process, before it parses the DAG,
    so the task's first hand-off does not pay for connecting.
    """
    try:
        _outbox().warm()
    except Exception:  # noqa: BLE001
        _log_failure("opening the event outbox")


@hookimpl
def before_stopping(component):
    """Before a task process or component exits: push out anything buffered while Redis was down (bounded)."""
    try:
        _outbox().flush(timeout=0.2)
    except Exception:  # noqa: BLE001
        _log_failure("flushing buffered events")
