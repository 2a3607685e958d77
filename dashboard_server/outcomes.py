"""The page's *Workflows* table: each workflow's runs, success rate, durations, findings per run and feedback shares.

``GET /api/outcomes?project=&since=`` answers the read model of :mod:`include.workflows.outcomes` -- the same one
the platform API's ``GET /autopr/api/v1/projects/{project}/outcomes`` serves, so the table and the API never
disagree (what each number means is said there).  It reads the app database only, never Airflow, and
authenticates like every sidecar route: the Airflow JWT as a bearer token, then membership of the project.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dashboard_server import db
from dashboard_server.http import HttpRoutes, _problem
from dashboard_server.payloads import describe
from dashboard_server.sidecar import Sidecar
from include.db.session import session_scope
from include.workflows.model import SLUG_PATTERN
from include.workflows.outcomes import project_outcomes


class OutcomesQuery(BaseModel):
    """The query of ``GET /api/outcomes`` (unknown parameters are refused, like every client payload)."""

    model_config = ConfigDict(extra="forbid")

    project: str = Field(pattern=SLUG_PATTERN)
    since: AwareDatetime | None = Field(default=None, description="Only runs that started at or after this time.")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def outcomes_of(project: str, since: datetime | None) -> list[dict[str, Any]]:
    with session_scope() as session:
        return [_jsonable(row.as_dict()) for row in project_outcomes(session, project, since=since)]


class OutcomesRoutes(HttpRoutes):
    async def outcomes(self, request: Request) -> JSONResponse:
        """``GET /api/outcomes?project=&since=``: one row per workflow of the project, each with its versions."""
        identity = self._identity(request)
        if isinstance(identity, JSONResponse):
            return identity
        try:
            query = OutcomesQuery.model_validate(dict(request.query_params))
        except ValidationError as exc:
            problem = describe(exc)
            return _problem(422, problem["message"], problem["field"])
        if await asyncio.to_thread(db.role_of, identity.username, query.project) is None:
            return _problem(403, f"not a member of project {query.project!r}", "project")
        workflows = await asyncio.to_thread(outcomes_of, query.project, query.since)
        return JSONResponse({"project": query.project, "since": _jsonable(query.since), "workflows": workflows})


def mount_outcomes(http_app: Starlette, sidecar: Sidecar) -> Starlette:
    """Put ``/api/outcomes`` in front of ``http_app``'s routes (its last route serves the page at ``/``)."""
    routes_of = OutcomesRoutes(sidecar)
    http_app.router.routes[0:0] = [Route("/api/outcomes", routes_of.outcomes)]
    return http_app
