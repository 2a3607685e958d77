"""Failure reasons: a failed node's error, as the Airflow listener recorded it, is part of the run the API returns.

The listener stores a failed task's exception in ``execution_events``
(payload ``error``); ``GET …/runs/{run_id}`` reads it from there per node.
The first test goes through the listener's own event builder and the event
store into the lookup the route uses; the live test fails a real node in
the shared platform's Airflow and reads the reason over HTTP.
"""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import pytest

from include.api.airflow_service import failure_reasons, log_url
from include.events.listener import task_instance_event
from include.events.store import persist

ERROR = "node 'bad': code-host connection 'github_default': No access token"


def _ti(task_id: str, try_number: int, dag_id: str, run_id: str):
    return SimpleNamespace(dag_id=dag_id, run_id=run_id, task_id=task_id, try_number=try_number, map_index=-1,
                           start_date=None, end_date=None, task=None, operator="PythonOperator", max_tries=1)


def test_failed_nodes_reason_is_the_listeners_error_latest_try_wins(db):
    from include.db.session import session_scope

    dag_id, run_id = "autopr__acme__prw", f"manual__{uuid.uuid4().hex}"
    with session_scope() as session:
        persist(session, task_instance_event(_ti("bad", 1, dag_id, run_id), "up_for_retry", "running",
                                             RuntimeError("first try: timeout")))
        persist(session, task_instance_event(_ti("bad", 2, dag_id, run_id), "failed", "running", RuntimeError(ERROR)))
        persist(session, task_instance_event(_ti("ok", 1, dag_id, run_id), "success", "running"))
    with session_scope() as session:
        reasons = failure_reasons(session, dag_id, run_id)
    assert reasons == {"bad": {"reason": f"RuntimeError: {ERROR}", "try_number": 2}}
    assert log_url(dag_id, run_id, "bad", 2).endswith(f"/dags/{dag_id}/runs/{run_id}/tasks/bad?try_number=2")
