"""The platform API's own Prometheus metrics, served anonymously at ``GET /autopr/metrics``.

What the platform does that Airflow's metrics cannot say: which workflows it
started (manual runs and webhook deliveries both go through
``include.api.airflow_service.start_run``), the final states it read back, webhook
deliveries by outcome, and predictions served by model and alias.  Events
relayed are counted where the relay runs, in the dashboard sidecar's own
``/metrics``.

A private registry keeps the output to these counters (no collectors of the
Airflow API server process they live in).  The registry is per process:
Airflow's API server runs one worker unless ``[api] workers`` says otherwise,
and with several each worker counts what it served and a scrape reaches one of
them — Airflow itself recommends more API servers over more workers, and each
server is then a target of its own.

Labels carry only identifiers the platform chose (project and workflow slugs,
model names, aliases, state names) — never a host, URL or error text, because
the endpoint is anonymous.  Incrementing a counter is a dictionary lookup and
a lock; nothing here may slow a request down.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from prometheus_client import CollectorRegistry, Counter, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

WORKFLOW_RUNS_STARTED = Counter(
    "autopr_workflow_runs_started", "Workflow runs the platform started in Airflow (manual and webhook)",
    ["project", "workflow"], registry=REGISTRY,
)
WORKFLOW_RUN_OUTCOMES = Counter(
    "autopr_workflow_run_outcomes",
    "Final states of workflow runs, counted once per run the first time this process reads it finished",
    ["outcome"], registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "autopr_webhook_deliveries", "Code-host webhook deliveries by what the platform did with them",
    ["status"], registry=REGISTRY,
)
PREDICTIONS = Counter(
    "autopr_predictions", "Severity predictions served, by registered model and the alias (A/B arm) serving it",
    ["model", "alias"], registry=REGISTRY,
)

#: Airflow's final DAG run states; anything else is still going and is not an outcome yet.
FINAL_STATES = frozenset({"success", "failed"})
#: How many finished runs one process remembers so that re-reading one never counts it twice;
#: the oldest are forgotten first (a run read again after that long counts once more).
_SEEN_MAX = 50_000
_seen: OrderedDict[tuple[str, str], None] = OrderedDict()
_seen_lock = threading.Lock()


def observe_run(dag_id: str, run: dict) -> None:
    """Count ``run``'s outcome if it is final and this process has not counted it yet."""
    state = run.get("state")
    if state not in FINAL_STATES:
        return
    key = (dag_id, str(run.get("dag_run_id")))
    with _seen_lock:
        if key in _seen:
            return
        _seen[key] = None
        if len(_seen) > _SEEN_MAX:
            _seen.popitem(last=False)
    WORKFLOW_RUN_OUTCOMES.labels(state).inc()


def render() -> bytes:
    return generate_latest(REGISTRY)
