"""RFC 9457 problem+json errors for the platform API.

Route code raises a :class:`ProblemError` subclass; the handlers installed by
:func:`install_problem_handlers` render it (and FastAPI's own validation and
HTTP errors) as ``application/problem+json`` with JSON pointers to the
offending field, node or edge, so bad input never becomes a 500.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://autopr.dev/problems/"


class ProblemError(Exception):
    """An error with an HTTP status, rendered as problem+json.

    ``errors`` is a list of ``{"pointer": "/nodes/3/config/cron", "message": "..."}``
    items (RFC 9457 extension member) so clients can point at the culprit.
    """

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

    def body(self, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": _TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


class BadRequest(ProblemError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(ProblemError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str, **kw: Any):
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(ProblemError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(ProblemError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(ProblemError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionRequired(ProblemError):
    status, title, slug = 428, "Precondition required", "precondition-required"


class Unprocessable(ProblemError):
    status, title, slug = 422, "Unprocessable content", "validation-failed"


class ServiceUnavailable(ProblemError):
    status, title, slug = 503, "Service unavailable", "service-unavailable"


def pointer(loc: tuple | list) -> str:
    """FastAPI/pydantic error location → JSON pointer (drops the 'body'/'query' prefix)."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _problem_response(request: Request, problem: ProblemError) -> JSONResponse:
    return JSONResponse(problem.body(request.url.path), status_code=problem.status,
                        media_type=PROBLEM_JSON, headers=problem.headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return _problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"pointer": pointer(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in exc.errors()]
        fields = ", ".join(err["pointer"] for err in errors[:5])
        return _problem_response(request, Unprocessable(f"Invalid request: {fields}", errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        problem = ProblemError(str(exc.detail))
        problem.status, problem.title, problem.slug = exc.status_code, str(exc.detail), f"http-{exc.status_code}"
        problem.headers = dict(exc.headers or {})
        return _problem_response(request, problem)
