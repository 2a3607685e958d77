"""HTTP side of the sidecar: health, metrics, login, projects, activity feed, the page.

Small Starlette app mounted behind the Socket.IO ASGI app (everything not
under /socket.io/ lands here).  API calls authenticate with the same Airflow
JWT as the socket (``Authorization: Bearer <token>``) and check project
membership on every request.  The routes read the sidecar's state from the
:class:`~dashboard_server.sidecar.Sidecar` the app factory hands to
:func:`build_http_app`.

Every error is a JSON ``{detail, field, reason}``, whatever raised it: the page
shows ``detail`` and decides from ``reason`` what to do (``database``: the app
database is unreachable, retry later -- answered 503, and /healthz says so).
A plain-text 500 would leave it guessing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from pathlib import Path

import httpx
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dashboard_server import db, metrics
from dashboard_server.metrics import FRAME_PATHS
from dashboard_server.payloads import LoginRequest, describe
from dashboard_server.sidecar import Sidecar
from include.auth.tokens import Identity, TokenError, verify_token
from include.events import ordering
from include.workflows.model import SLUG_PATTERN

log = logging.getLogger("dashboard_server")
STATIC_DIR = Path(__file__).resolve().parent / "static"
FEED_MAX = 200


#: What a client is told when the app database does not answer (the page shows it and retries).
DATABASE_UNAVAILABLE = "history unavailable, retrying"


def _problem(status: int, detail: str, field: str | None = None, reason: str | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "field": field, "reason": reason}, status_code=status)


def _int_param(request: Request, name: str, default: int | None, low: int, high: int | None = None):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        return _problem(422, f"must be an integer, got {raw!r}", name)
    if value < low or (high is not None and value > high):
        return _problem(422, f"must be between {low} and {high}" if high else f"must be >= {low}", name)
    return value


async def metrics_view(request: Request) -> Response:
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


class HttpRoutes:
    """The route handlers of one sidecar (bound methods, so each reads the state it was given)."""

    def __init__(self, sidecar: Sidecar):
        self.sidecar = sidecar
        self.settings = sidecar.settings

    def _identity(self, request: Request) -> Identity | JSONResponse:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _problem(401, "missing bearer token", "Authorization")
        try:
            return verify_token(token.strip(), self.settings)
        except TokenError as exc:
            return _problem(401, exc.reason, "Authorization")

    def _authenticated(self, request: Request) -> bool:
        """A valid Airflow JWT came with the request (only such callers see hosts and error texts)."""
        return not isinstance(self._identity(request), JSONResponse)

    async def healthz(self, request: Request) -> JSONResponse:
        """Status and counters for anyone; why something fails only with a valid token.

        Probes and dashboards poll this anonymously, so the anonymous answer names
        failing components but never an error text, a host or a lease owner (a host
        name): a database driver's message carries the server's address.
        """
        sidecar = self.sidecar
        reasons = sidecar.health_reasons()
        relay = dataclasses.asdict(sidecar.relay_stats) if sidecar.relay_stats is not None else None
        reconciler = sidecar.reconciler_lease.status() if sidecar.reconciler_lease is not None else None
        body = {
            "status": "degraded" if reasons else "ok",
            "failing": sorted(reasons),
            "connections": len(sidecar.fanout.clients),
            "rooms": len(sidecar.fanout.rooms),
            "replaying": sum(1 for c in sidecar.fanout.clients.values() if c.holding),
            "frames": dict(FRAME_PATHS),
            "redis": bool(self.settings.redis_url),
            "tasks": sidecar.task_status(),
            "relay": relay,
            "gc": sidecar.gc_policy.status(),
            "order": sidecar.sequencer.status(),
            "reconciler": reconciler,
        }
        if self._authenticated(request):
            body["reasons"] = reasons
        else:
            if relay is not None:
                relay.pop("last_error", None)
            if reconciler is not None:
                reconciler.pop("owner", None)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def failed(self, request: Request, exc: Exception) -> JSONResponse:
        """Any exception a route raised, as JSON with a reason (the database's outage by name)."""
        if isinstance(exc, HTTPException):
            return _problem(exc.status_code, str(exc.detail), reason="http")
        if isinstance(exc, DBAPIError):
            self.sidecar.database_failed(exc)
            log.warning("%s %s: database unavailable (%s)", request.method, request.url.path, exc)
            return _problem(503, DATABASE_UNAVAILABLE, reason="database")
        log.exception("%s %s failed", request.method, request.url.path)
        return _problem(500, f"internal error ({type(exc).__name__})", reason="internal")

    async def ordering(self, request: Request) -> JSONResponse:
        """The rule that decides a task's or run's current state (:mod:`include.events.ordering`), for the page."""
        return JSONResponse(ordering.rule_table(), headers={"Cache-Control": "max-age=3600"})

    async def run_state(self, request: Request) -> JSONResponse:
        """``GET /api/run-state?project=&dag_id=&run_id=``: the current event of a run and of each of its tasks."""
        identity = self._identity(request)
        if isinstance(identity, JSONResponse):
            return identity
        params = request.query_params
        project, dag_id, run_id = params.get("project", ""), params.get("dag_id", ""), params.get("run_id", "")
        if not re.match(SLUG_PATTERN, project):
            return _problem(422, "required: a project slug", "project")
        for name, value in (("dag_id", dag_id), ("run_id", run_id)):
            if not value:
                return _problem(422, "required", name)
        if await asyncio.to_thread(db.role_of, identity.username, project) is None:
            return _problem(403, f"not a member of project {project!r}", "project")
        current = ordering.current_states(await asyncio.to_thread(db.run_events, project, dag_id, run_id))
        run = next((e for key, e in current.items() if key[0] == "dag_run"), None)
        tasks = sorted((e for key, e in current.items() if key[0] == "task_instance"),
                       key=lambda e: (e["task_id"], e["map_index"]))  # fmt: skip
        return JSONResponse({"project": project, "dag_id": dag_id, "run_id": run_id, "run": run, "tasks": tasks})

    async def config(self, request: Request) -> JSONResponse:
        return JSONResponse({"airflow_ui_url": self.settings.airflow_ui_url.rstrip("/")})

    async def login(self, request: Request) -> JSONResponse:
        """Exchange Airflow credentials for an Airflow JWT (the page cannot call Airflow cross-origin)."""
        try:
            body = LoginRequest.model_validate(await request.json())
        except ValidationError as exc:
            problem = describe(exc)
            return _problem(422, problem["message"], problem["field"])
        except ValueError:
            return _problem(422, "body must be JSON {username, password}", "body")
        url = self.settings.airflow_api_url.rstrip("/") + "/auth/token"
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                reply = await client.post(url, json={"username": body.username, "password": body.password})
        except httpx.HTTPError as exc:
            # Anyone may call the login: the address Airflow is reached at goes to the log, not to them.
            log.warning("login: Airflow is unreachable at %s (%s)", url, exc)
            return _problem(502, f"Airflow is unreachable ({exc.__class__.__name__})")
        if reply.status_code in (401, 403):
            return _problem(401, "invalid username or password", "password")
        if reply.status_code >= 400:
            return _problem(502, f"Airflow answered {reply.status_code} to the login")
        token = reply.json().get("access_token")
        try:
            identity = verify_token(token, self.settings)
        except TokenError as exc:
            # Airflow and the platform disagree on the JWT secret/audience: say so plainly.
            return _problem(502, f"Airflow issued a token this dashboard cannot verify ({exc.reason})")
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "username": identity.username,
                "expires_at": identity.expires_at,
            }
        )

    async def projects(self, request: Request) -> JSONResponse:
        identity = self._identity(request)
        if isinstance(identity, JSONResponse):
            return identity
        member = await asyncio.to_thread(db.member_projects, identity.username)
        return JSONResponse(
            {"username": identity.username, "projects": [{"slug": s, "role": r} for s, r in sorted(member.items())]}
        )

    async def feed(self, request: Request) -> JSONResponse:
        """``GET /api/feed?project=&before_id=&limit=``: a project's events, newest first."""
        identity = self._identity(request)
        if isinstance(identity, JSONResponse):
            return identity
        project = request.query_params.get("project", "")
        if not re.match(SLUG_PATTERN, project):
            return _problem(422, "required: a project slug", "project")
        before_id = _int_param(request, "before_id", None, 1)
        limit = _int_param(request, "limit", 50, 1, FEED_MAX)
        for value in (before_id, limit):
            if isinstance(value, JSONResponse):
                return value
        role = await asyncio.to_thread(db.role_of, identity.username, project)
        if role is None:
            return _problem(403, f"not a member of project {project!r}", "project")
        items = await asyncio.to_thread(db.feed_page, project, before_id, limit)
        next_before = items[-1]["id"] if len(items) == limit else None
        return JSONResponse({"project": project, "items": items, "next_before_id": next_before})


def build_http_app(sidecar: Sidecar) -> Starlette:
    routes_of = HttpRoutes(sidecar)
    routes = [
        Route("/healthz", routes_of.healthz),
        Route("/metrics", metrics_view),
        Route("/api/config", routes_of.config),
        Route("/api/login", routes_of.login, methods=["POST"]),
        Route("/api/projects", routes_of.projects),
        Route("/api/feed", routes_of.feed),
        Route("/api/ordering", routes_of.ordering),
        Route("/api/run-state", routes_of.run_state),
        Mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static"),
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=sidecar.settings.dashboard_allowed_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    ]
    # DBAPIError by name too: handled there, it is answered without reaching the server's error log as a crash.
    handlers = {DBAPIError: routes_of.failed, HTTPException: routes_of.failed, Exception: routes_of.failed}
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)
