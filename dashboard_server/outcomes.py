"""The page's *Workflows* table: each workflow's runs, success rate, durations, findings per run and feedback shares.

``GET /api/outcomes?project=&since=`` answers the read model of :mod:`include.workflows.outcomes` -- the same one
the platform API's ``GET /autopr/api/v1/projects/{project}/outcomes`` serves, so the table and the API never
disagree (what each number means is said there).  It reads the app database only, never Airflow, and
authenticates like every sidecar route: the Airflow JWT as a bearer token, then membership of the project.

Why answers are shared: every page of a project asks again when a run of it changes state, all at once, and the
read model goes over all the project's runs in the time asked for.  One computation per project, time and newest
DAG-run event serves them all (concurrent askers wait for the one in flight); a new run event gives a new key, so a
page asking after an event never gets the numbers from before it, and an answer is reused for at most
:data:`CACHE_SECONDS` (feedback arrives without run events).  The page rounds its time filter to the minute so
pages with the same filter share a key.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dashboard_server import db
from dashboard_server.http import HttpRoutes, _problem
from dashboard_server.payloads import describe
from dashboard_server.sidecar import Sidecar
from include.db.models import ExecutionEvent
from include.db.session import session_scope
from include.workflows.model import SLUG_PATTERN
from include.workflows.outcomes import project_outcomes

#: How long one answer is reused while no run event of its project arrives.
CACHE_SECONDS = 30.0
CACHE_SIZE = 256


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


def latest_run_event(project: str) -> int:
    """The id of the project's newest DAG-run event (0 without one): what a cached answer is keyed by."""
    with session_scope() as session:
        newest = session.scalar(
            select(func.max(ExecutionEvent.id)).where(ExecutionEvent.project == project,
                                                      ExecutionEvent.event_type == "dag_run")
        )  # fmt: skip
        return int(newest or 0)


class SharedAnswers:
    """Answers by key, computed once however many ask at the same time, reused for :data:`CACHE_SECONDS`."""

    def __init__(self) -> None:
        self._answers: OrderedDict[tuple, tuple[float, asyncio.Future]] = OrderedDict()

    async def get(self, key: tuple, compute: Callable[[], Awaitable[Any]]) -> Any:
        now = time.monotonic()
        held = self._answers.get(key)
        if held is None or held[0] < now:
            task = asyncio.ensure_future(compute())
            held = self._answers[key] = (now + CACHE_SECONDS, task)
            while len(self._answers) > CACHE_SIZE:
                self._answers.popitem(last=False)

            def forget_failure(done: asyncio.Future) -> None:  # the next ask computes again
                if (done.cancelled() or done.exception() is not None) and self._answers.get(key, (0, None))[1] is done:
                    del self._answers[key]

            task.add_done_callback(forget_failure)
        # Shielded: a page that goes away mid-computation does not cancel it for the others waiting.
        return await asyncio.shield(held[1])


class OutcomesRoutes(HttpRoutes):
    def __init__(self, sidecar: Sidecar):
        super().__init__(sidecar)
        self.answers = SharedAnswers()

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
        newest = await asyncio.to_thread(latest_run_event, query.project)
        workflows = await self.answers.get(
            (query.project, query.since, newest), lambda: asyncio.to_thread(outcomes_of, query.project, query.since)
        )
        return JSONResponse({"project": query.project, "since": _jsonable(query.since), "workflows": workflows})


def mount_outcomes(http_app: Starlette, sidecar: Sidecar) -> Starlette:
    """Put ``/api/outcomes`` in front of ``http_app``'s routes (its last route serves the page at ``/``)."""
    routes_of = OutcomesRoutes(sidecar)
    http_app.router.routes[0:0] = [Route("/api/outcomes", routes_of.outcomes)]
    return http_app
