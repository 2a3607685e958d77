"""The page's run history and its sign-in through the Airflow session.

``GET /api/runs`` answers whole runs, newest first: every event a run has (so a
run paged in from the database is complete, unlike the newest-N activity feed),
the workflow's name and version, and the pull request the run is about.  The
page decides each task's shown state from those events with the one ordering
rule, so no state is aggregated here.

Where the pull request comes from: a workflow run's ``conf["event"]`` (the
code-host event that started it, :class:`include.codehost.events.CodeHostEvent`)
and ``conf["workflow_version"]``, read from Airflow's REST API with the caller's
own token (Airflow's permissions apply).  A run's conf never changes after it is
triggered, so each is fetched once per process.

``POST /api/session`` signs the page in with the Airflow UI's session: Airflow 3
keeps its JWT in the ``_token`` cookie of its host, and cookies are not
port-isolated, so a browser that is signed in to Airflow sends it to this
sidecar on the same host too.  The token is verified like any other (same
secret, audience and issuer) and handed to the page, which then uses it as the
login form's token.  Only this page's own origin (or an allowed dashboard
origin) may ask: the browser sends ``Origin`` with every POST, and a page of
another origin must not turn a visitor's cookie into a token it can read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select, tuple_
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard_server import db
from dashboard_server.http import HttpRoutes, _problem
from dashboard_server.payloads import describe
from dashboard_server.sidecar import Sidecar
from include.airflow_client import AirflowClient, AirflowError, AirflowUnavailable
from include.auth.tokens import TokenError, verify_token
from include.db.models import ExecutionEvent, Project, Workflow
from include.db.session import session_scope
from include.events.store import event_to_wire
from include.workflows.model import DAG_ID_PREFIX, SLUG_PATTERN, dag_id_for

log = logging.getLogger("dashboard_server")

#: The cookie Airflow 3's UI keeps its JWT in (``airflow.api_fastapi.auth.managers.base_auth_manager``).
AIRFLOW_SESSION_COOKIE = "_token"
RUNS_MAX = 100
#: A page's runs carry at most this many events in all (past it, the oldest are kept and ``complete`` is false).
EVENTS_MAX = 5000
#: Run contexts remembered per process (a run's conf is immutable, so they never go stale).
CONTEXT_CACHE_SIZE = 4096
#: The ``conf["event"]`` fields the page shows.
CONTEXT_FIELDS = ("kind", "repository", "pr_number", "issue_number", "title", "author", "ref", "sha")


def run_pages(
    project: str, before: int | None, limit: int, dag_id: str | None, run_id: str | None, since: datetime | None
) -> list[dict]:
    """One page of a project's runs, newest first (by their first event), each with all its events, oldest first."""
    first_id = func.min(ExecutionEvent.id).label("first_id")
    query = (
        select(ExecutionEvent.dag_id, ExecutionEvent.run_id, first_id)
        .where(ExecutionEvent.project == project, ExecutionEvent.run_id.is_not(None))
        .group_by(ExecutionEvent.dag_id, ExecutionEvent.run_id)
    )
    if dag_id is not None:
        query = query.where(ExecutionEvent.dag_id == dag_id)
    if run_id is not None:
        query = query.where(ExecutionEvent.run_id == run_id)
    if before is not None:
        query = query.having(func.min(ExecutionEvent.id) < before)
    if since is not None:
        query = query.having(func.max(ExecutionEvent.occurred_at) >= since)
    with session_scope() as session:
        keys = session.execute(query.order_by(first_id.desc()).limit(limit)).all()
        if not keys:
            return []
        rows = session.scalars(
            select(ExecutionEvent)
            .where(
                ExecutionEvent.project == project,
                tuple_(ExecutionEvent.dag_id, ExecutionEvent.run_id).in_([(k.dag_id, k.run_id) for k in keys]),
            )
            .order_by(ExecutionEvent.id)
            .limit(EVENTS_MAX + 1)
        ).all()
        events = [event_to_wire(row) for row in rows[:EVENTS_MAX]]
    by_run: dict[tuple[str, str], list[dict]] = {(k.dag_id, k.run_id): [] for k in keys}
    for event in events:
        by_run[(event["dag_id"], event["run_id"])].append(event)
    return [
        {
            "dag_id": k.dag_id,
            "run_id": k.run_id,
            "first_id": int(k.first_id),
            "events": by_run[(k.dag_id, k.run_id)],
            "complete": len(rows) <= EVENTS_MAX,
        }
        for k in keys
    ]


def workflow_names(project: str, dag_ids: set[str]) -> dict[str, dict[str, Any]]:
    """dag_id -> ``{slug, name, current_version}`` for the project's workflow DAGs among ``dag_ids``."""
    prefix = f"{DAG_ID_PREFIX}{project}__"
    slugs = {d[len(prefix) :] for d in dag_ids if d.startswith(prefix)}
    if not slugs:
        return {}
    with session_scope() as session:
        rows = session.execute(
            select(Workflow.slug, Workflow.name, Workflow.current_version)
            .join(Project, Project.id == Workflow.project_id)
            .where(Project.slug == project, Workflow.slug.in_(slugs))
        ).all()
    return {
        dag_id_for(project, r.slug): {"slug": r.slug, "name": r.name, "current_version": r.current_version}
        for r in rows
    }


def code_host_web_url(api_url: str) -> str:
    """GitHub's web address from its API address: ``api.github.com`` -> ``github.com``, Enterprise drops ``/api/v3``."""
    url = api_url.rstrip("/")
    if "://api." in url:
        return url.replace("://api.", "://", 1)
    return url.removesuffix("/api/v3")


def context_of(conf: Any, web_url: str) -> dict[str, Any]:
    """What the page shows of a run's conf: the code-host event's fields, a link, and the workflow version it ran."""
    conf = conf if isinstance(conf, dict) else {}
    event = conf.get("event") if isinstance(conf.get("event"), dict) else {}
    context = {name: event.get(name) for name in CONTEXT_FIELDS if event.get(name) is not None}
    if context.get("repository") and context.get("pr_number"):
        context["url"] = f"{web_url}/{context['repository']}/pull/{context['pr_number']}"
    elif context.get("repository") and context.get("issue_number"):
        context["url"] = f"{web_url}/{context['repository']}/issues/{context['issue_number']}"
    if isinstance(conf.get("workflow_version"), int):
        context["workflow_version"] = conf["workflow_version"]
    return context


class RunsQuery(BaseModel):
    """The query of ``GET /api/runs`` (unknown parameters are refused, like every client payload)."""

    model_config = ConfigDict(extra="forbid")

    project: str = Field(pattern=SLUG_PATTERN)
    before: int | None = Field(default=None, ge=1, description="Runs whose first event id is below this.")
    limit: int = Field(default=25, ge=1, le=RUNS_MAX)
    workflow: str | None = Field(default=None, pattern=SLUG_PATTERN, description="A workflow slug of the project.")
    since: AwareDatetime | None = Field(default=None, description="Runs with an event at or after this time.")
    dag_id: str | None = Field(default=None, min_length=1, max_length=250)
    run_id: str | None = Field(default=None, min_length=1, max_length=250)


class RunContexts:
    """Each run's context from Airflow, fetched once per process with the asking user's token."""

    def __init__(self, sidecar: Sidecar):
        self.settings = sidecar.settings
        self._known: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

    def _fetch(self, token: str, runs: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any] | None]:
        found: dict[tuple[str, str], dict[str, Any] | None] = {}
        with AirflowClient(token=token, settings=self.settings, timeout=5.0) as client:
            for dag_id, run_id in runs:
                try:
                    conf = client.get_dag_run(dag_id, run_id).get("conf")
                    found[(dag_id, run_id)] = context_of(conf, code_host_web_url(self.settings.github_api_url))
                except AirflowError as exc:
                    # Not in Airflow (an event-only run, a deleted run), not visible to this user, or Airflow is down:
                    # the run is shown without its context, and asked again on the next page.
                    log.debug("run context of %s/%s: %s", dag_id, run_id, exc)
                    found[(dag_id, run_id)] = None
                    if isinstance(exc, AirflowUnavailable):
                        break
        return found

    async def of(self, token: str, runs: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any] | None]:
        missing = [key for key in runs if key not in self._known]
        fetched = await asyncio.to_thread(self._fetch, token, missing) if missing else {}
        for key, context in fetched.items():
            if context is not None:
                self._known[key] = context
        while len(self._known) > CONTEXT_CACHE_SIZE:
            self._known.popitem(last=False)
        return {key: self._known.get(key) for key in runs}


class HistoryRoutes(HttpRoutes):
    """``/api/runs`` and ``/api/session`` (they authenticate exactly like the routes of :mod:`dashboard_server.http`)."""

    def __init__(self, sidecar: Sidecar):
        super().__init__(sidecar)
        self.contexts = RunContexts(sidecar)

    async def runs(self, request: Request) -> JSONResponse:
        """``GET /api/runs?project=&before=&limit=&workflow=&since=``: whole runs, newest first; page on with ``before``.

        ``dag_id`` and ``run_id`` pick runs exactly (the page asks for a run it first saw live).
        """
        identity = self._identity(request)
        if isinstance(identity, JSONResponse):
            return identity
        try:
            query = RunsQuery.model_validate(dict(request.query_params))
        except ValidationError as exc:
            problem = describe(exc)
            return _problem(422, problem["message"], problem["field"])
        project = query.project
        if await asyncio.to_thread(db.role_of, identity.username, project) is None:
            return _problem(403, f"not a member of project {project!r}", "project")
        dag_id = dag_id_for(project, query.workflow) if query.workflow else query.dag_id
        runs = await asyncio.to_thread(
            run_pages, project, query.before, query.limit, dag_id, query.run_id, query.since
        )
        names = await asyncio.to_thread(workflow_names, project, {run["dag_id"] for run in runs})
        token = request.headers["authorization"].partition(" ")[2].strip()
        contexts = await self.contexts.of(token, [(r["dag_id"], r["run_id"]) for r in runs])
        for run in runs:
            run["workflow"] = names.get(run["dag_id"])
            run["context"] = contexts[(run["dag_id"], run["run_id"])]
        return JSONResponse(
            {"project": project, "runs": runs, "next_before": runs[-1]["first_id"] if len(runs) == query.limit else None}
        )

    def _origin_allowed(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        return origin is not None and (origin == own or origin in self.settings.dashboard_allowed_origins)

    async def session(self, request: Request) -> JSONResponse:
        """``POST /api/session``: the Airflow UI's session as a token for this page (the page's own origin only)."""
        if not self._origin_allowed(request):
            return _problem(403, "only the dashboard page may ask for its session", "Origin")
        try:
            identity = verify_token(request.cookies.get(AIRFLOW_SESSION_COOKIE), self.settings)
        except TokenError as exc:
            return _problem(401, f"no Airflow session ({exc.reason}); log in", AIRFLOW_SESSION_COOKIE)
        token = request.cookies[AIRFLOW_SESSION_COOKIE]
        return JSONResponse(
            {"access_token": token, "token_type": "bearer", "username": identity.username,
             "expires_at": identity.expires_at},
            headers={"Cache-Control": "no-store"},
        )  # fmt: skip


class FrameAncestors:
    """Who may show the page in a frame: its own origin and Airflow's UI, whose nav embeds it.

    The page signs in by the Airflow session on its own, so another site must not frame
    it and have a visitor click in it unawares (clickjacking).
    """

    def __init__(self, app: ASGIApp, airflow_ui_url: str):
        self.app = app
        ui = urlsplit(airflow_ui_url)
        self.policy = f"frame-ancestors 'self' {ui.scheme}://{ui.netloc}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("Content-Security-Policy", self.policy)
            await send(message)

        await self.app(scope, receive, send_with_policy)


def mount_history(http_app: Starlette, sidecar: Sidecar) -> Starlette:
    """Put the history routes in front of ``http_app``'s (its last route serves the page at ``/``)."""
    routes_of = HistoryRoutes(sidecar)
    http_app.router.routes[0:0] = [
        Route("/api/runs", routes_of.runs),
        Route("/api/session", routes_of.session, methods=["POST"]),
    ]
    http_app.add_middleware(FrameAncestors, airflow_ui_url=sidecar.settings.airflow_ui_url)
    return http_app
