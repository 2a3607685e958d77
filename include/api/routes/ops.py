"""Operations endpoints of the platform API: health and Prometheus metrics.

Both answer anonymous callers (load balancers probe health, Prometheus scrapes
metrics without credentials), so neither may say anything about hosts, ports,
database URLs or credentials to them: an exception's text names the database
server it could not reach.  Anonymous callers get states only; a caller with a
valid Airflow-issued JWT (or the Airflow UI's session) also gets the reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from include.api import metrics
from include.api.deps import _token_from, current_user
from include.api.errors import Unauthorized
from include.auth.tokens import Identity
from include.db.session import get_engine

router = APIRouter(tags=["health"])

#: Longest reason shown to an authenticated caller (a driver's message can run to pages).
REASON_MAX = 500


def _database() -> str | None:
    """None when the app database answers, else why not."""
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - report, never raise: this is a health probe
        return f"{type(exc).__name__}: {exc}"[:REASON_MAX]
    return None


async def _caller(request: Request) -> Identity | None:
    """Who is asking, or None for an anonymous caller (a bad token counts as none: this never answers 401)."""
    if not _token_from(request) and getattr(request.state, "user", None) is None:
        return None
    try:
        return await current_user(request)
    except Unauthorized:
        return None


@router.get("/health", summary="Platform API and app database health",
            description="Anonymous callers get the states; with a valid Airflow JWT the answer also says why a"
                        " component is unhealthy.")
async def health(request: Request, response: Response) -> dict:
    failure = await run_in_threadpool(_database)
    body: dict = {"status": "healthy" if failure is None else "degraded",
                  "database": "healthy" if failure is None else "unhealthy"}
    if failure is not None and await _caller(request) is not None:
        body["reasons"] = {"database": failure}
    response.headers["Cache-Control"] = "no-store"
    return body


@router.get("/metrics", summary="Prometheus metrics of this API server process",
            response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def prometheus_metrics() -> Response:
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
