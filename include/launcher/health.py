"""Health checks for every role, used by the supervisor and by ``python -m include.launcher health ROLE``.

A check answers "is this process doing its job now", not "is a port open":
Airflow's scheduler, DAG processor and triggerer count as healthy only once
Airflow's own monitor shows a heartbeat newer than the process's start, so a
restarted component is not reported healthy on its dead predecessor's
heartbeat.  Container probes call the same functions through the CLI.
"""

from __future__ import annotations

from datetime import datetime

import httpx

from include.settings import Settings

# Components the Airflow API reports in GET /api/v2/monitor/health, by the role that runs them.
MONITORED_COMPONENTS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}
AIRFLOW_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def airflow_health(settings: Settings) -> dict:
    return httpx.get(f"{settings.airflow_api_url}/api/v2/monitor/health", timeout=3).json()


def airflow_all_healthy(settings: Settings) -> bool:
    health = airflow_health(settings)
    return all(health.get(name, {}).get("status") == "healthy" for name in AIRFLOW_COMPONENTS)


def api_server_healthy(settings: Settings) -> bool:
    """The API server answers and reaches the metadata database."""
    resp = httpx.get(f"{settings.airflow_api_url}/api/v2/monitor/health", timeout=3)
    return resp.status_code == 200 and resp.json().get("metadatabase", {}).get("status") == "healthy"


def heartbeat_since(settings: Settings, role: str, since: float) -> bool:
    """Airflow's monitor shows this component healthy with a heartbeat at or after ``since`` (epoch seconds)."""
    component = MONITORED_COMPONENTS[role]
    entry = airflow_health(settings).get(component) or {}
    beat = entry.get(f"latest_{component}_heartbeat")
    if entry.get("status") != "healthy" or not beat:
        return False
    return datetime.fromisoformat(beat).timestamp() >= since - 1.0


def scheduler_healthy(settings: Settings, since: float) -> bool:
    """The scheduler's own health server says alive, and its heartbeat is this process's."""
    port = settings.airflow_log_server_ports[2]
    resp = httpx.get(f"http://127.0.0.1:{port}/health", timeout=3)
    return resp.status_code == 200 and heartbeat_since(settings, "scheduler", since)


def celery_worker_healthy(settings: Settings) -> bool:
    """The worker answers a Celery ping under its own node name (what ``celery inspect ping`` does)."""
    from celery import Celery

    app = Celery(broker=settings.redis_url)
    try:
        replies = app.control.ping(destination=[settings.celery_worker_node], timeout=2.0)
    finally:
        app.close()
    return any(settings.celery_worker_node in reply for reply in replies)


def dashboard_healthy(url: str) -> bool:
    """The sidecar answers and says ``ok``: ``degraded`` (it runs, but its database, relay or a task fails) is unhealthy.

    Unhealthy is reported, never acted on: the supervisor restarts only a process
    that exited (include/launcher/processes.py), and a restart could not bring an
    unreachable database back -- the sidecar keeps serving live events and
    recovers by itself when the database returns.  A container should use this
    as its readiness probe, not its liveness probe, for the same reason.
    """
    resp = httpx.get(url, timeout=3)
    return resp.status_code == 200 and resp.json().get("status") == "ok"


def http_ok(url: str) -> bool:
    return httpx.get(url, timeout=3).status_code == 200


