"""RFC 9457 problem+json errors for the platform API.

Route code raises a :class:`ProblemError` subclass; the handlers in
:mod:`include.api.problem_handlers` render it (and FastAPI's own validation and
HTTP errors) as ``application/problem+json`` with JSON pointers to the
offending field, node or edge, so bad input never becomes a 500.  This module
is the contract: the error types, the body's schema and the pointers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://autopr.dev/problems/"


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
            "type": TYPE_BASE + self.slug,
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


def if_match_required() -> PreconditionRequired:
    """The answer to a write that needs ``If-Match`` and sent none (RFC 6585's 428, whether a route or the
    request validation notices the header missing)."""
    return PreconditionRequired(
        "This write needs If-Match with the workflow's ETag (from GET); it prevents overwriting someone else's save"
    )


class Unprocessable(ProblemError):
    status, title, slug = 422, "Unprocessable content", "validation-failed"


class ServiceUnavailable(ProblemError):
    status, title, slug = 503, "Service unavailable", "service-unavailable"


class Gone(ProblemError):
    status, title, slug = 410, "Gone", "gone"


class BadGateway(ProblemError):
    """Airflow (or another service we call) answered with an error."""

    status, title, slug = 502, "Bad gateway", "upstream-error"


class ProblemItem(BaseModel):
    """One culprit: a JSON pointer into the request (or workflow) and what is wrong there."""

    pointer: str = Field(description="JSON pointer, e.g. /nodes/2/config/cron or /edges/0")
    message: str
    node_id: str | None = None
    edge_id: str | None = None
    field: str | None = None


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemItem] | None = None


STATUS_TEXT = {
    400: "Bad request",
    401: "Missing, malformed or expired token",
    403: "Authenticated, but the role in the project is too weak",
    404: "Not found (or not visible to the caller)",
    405: "Method not allowed",
    409: "Conflict with the current state (e.g. stale revision)",
    410: "Gone",
    412: "Precondition failed",
    415: "Unsupported media type",
    422: "Request body or parameters are invalid",
    428: "If-Match header required",
    502: "Airflow answered with an error",
    503: "A service the platform needs is unavailable",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring problem+json bodies for ``codes``."""
    return {
        code: {"description": STATUS_TEXT.get(code, "Problem"), "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
        for code in codes
    }


def pointer(loc: tuple | list) -> str:
    """FastAPI/pydantic error location → JSON pointer (drops the 'body'/'query' prefix)."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return "/" + "/".join(escape_pointer_part(p) for p in parts)


def escape_pointer_part(part: str) -> str:
    """One JSON-pointer reference token (RFC 6901: ``~`` -> ``~0``, then ``/`` -> ``~1``)."""
    return part.replace("~", "~0").replace("/", "~1")
