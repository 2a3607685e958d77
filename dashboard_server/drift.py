"""The page's *Model drift* panel: the served severity model's newest drift reports.

``GET /api/drift`` answers what the platform API's ``GET /autopr/api/v1/predictions/drift`` answers, from the same
read (:func:`ml.drift_watch.latest_reports` over ``ml_drift_reports``, written by the ``ml_drift_watch`` DAG), so
the panel and the API never disagree.  Like the API route it needs a valid Airflow JWT and no project role: the
model serves every project, and a report holds counts of analysers, rules, file types, bands and hashed tokens,
never a repository or a message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dashboard_server.http import HttpRoutes, _int_param
from dashboard_server.sidecar import Sidecar
from include.db.session import session_scope

#: Reports the panel's trend shows by default (one a check; the DAG checks hourly).
DEFAULT_REPORTS = 24


def drift_of(model_name: str, limit: int) -> list[dict[str, Any]]:
    from ml.drift_watch import latest_reports

    with session_scope() as session:
        return latest_reports(session, model_name, limit)


class DriftRoutes(HttpRoutes):
    async def drift(self, request: Request) -> JSONResponse:
        """``GET /api/drift?limit=``: the newest reports, newest first, and the newest on its own."""
        identity = self._identity(request)
        if isinstance(identity, JSONResponse):
            return identity
        limit = _int_param(request, "limit", DEFAULT_REPORTS, 1, 500)
        if isinstance(limit, JSONResponse):
            return limit
        name = self.settings.severity_model_name
        reports = await asyncio.to_thread(drift_of, name, limit)
        return JSONResponse({"model_name": name, "latest": reports[0] if reports else None, "reports": reports})


def mount_drift(http_app: Starlette, sidecar: Sidecar) -> Starlette:
    """Put ``/api/drift`` in front of ``http_app``'s routes (its last route serves the page at ``/``)."""
    http_app.router.routes[0:0] = [Route("/api/drift", DriftRoutes(sidecar).drift)]
    return http_app
