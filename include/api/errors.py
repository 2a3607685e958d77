"""RFC 9457 problem+json errors for the platform API.

Route code raises a :class:`ProblemError` subclass; the handlers installed by
:func:`install_problem_handlers` render it (and FastAPI's own validation and
HTTP errors) as ``application/problem+json`` with JSON pointers to the
offending field, node or edge, so bad input never becomes a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
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


_STATUS_TEXT = {
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
        code: {"description": _STATUS_TEXT.get(code, "Problem"), "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not bad input: log it with the traceback, answer in the same format.
        logging.getLogger(__name__).exception("Unhandled error on %s %s", request.method, request.url.path)
        problem = ProblemError("An unexpected error occurred; it has been logged.")
        problem.status, problem.title, problem.slug = 500, "Internal server error", "internal-error"
        return _problem_response(request, problem)

    _document_problems(app)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        problem = ProblemError(str(exc.detail))
        problem.status, problem.title, problem.slug = exc.status_code, str(exc.detail), f"http-{exc.status_code}"
        problem.headers = dict(exc.headers or {})
        return _problem_response(request, problem)


def _document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document tell the truth about error bodies.

    FastAPI documents 422 as its own ``HTTPValidationError`` JSON; this app
    answers every error as problem+json, so the generated document is patched:
    each operation's 422 (and every 4xx/5xx a route declares) points at
    ``ProblemDetails``, and every operation declares 401 (all routes are
    authenticated except the health probe and the signed webhook).
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes,
            servers=app.servers,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (ProblemItem, ProblemDetails):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        problem_ref = {"$ref": "#/components/schemas/ProblemDetails"}
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                if "422" in responses or operation.get("parameters") or operation.get("requestBody"):
                    responses["422"] = {"description": _STATUS_TEXT[422], "content": {PROBLEM_JSON: {"schema": problem_ref}}}
                if operation.get("requestBody"):  # unparseable bodies (not JSON at all)
                    responses.setdefault("400", {"description": _STATUS_TEXT[400]})
                if operation.get("security"):
                    responses.setdefault("401", {"description": _STATUS_TEXT[401]})
                for code, response in responses.items():
                    if code[0] in "45":
                        response["content"] = {PROBLEM_JSON: {"schema": problem_ref}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_NODE_LEVEL_FIELDS = {"id", "type", "label", "position", "config"}


def workflow_problem_items(problems: list[Any], document: Any, base: str = "") -> list[dict[str, Any]]:
    """Workflow validation problems → problem+json ``errors`` with JSON pointers into ``document``.

    A problem names a node or edge by id and a dotted ``field`` (inside the
    node's config for config errors); the pointer names the array position in
    the submitted document (``/nodes/2/config/cron``) so a client can highlight
    the exact input, while ``node_id``/``edge_id``/``field`` stay for editors
    that work by id.
    """
    nodes = document.get("nodes") if isinstance(document, dict) else None
    edges = document.get("edges") if isinstance(document, dict) else None

    def index_of(items: Any, item_id: str) -> int | None:
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict) and item.get("id") == item_id:
                    return i
        return None

    out = []
    for p in problems:
        parts: list[str] = []
        field_parts = [f for f in (p.field or "").split(".") if f]
        if p.node_id is not None and (i := index_of(nodes, p.node_id)) is not None:
            parts = ["nodes", str(i)]
            if field_parts and field_parts[0] not in _NODE_LEVEL_FIELDS:
                parts.append("config")
        elif p.edge_id is not None and (i := index_of(edges, p.edge_id)) is not None:
            parts = ["edges", str(i)]
        parts += field_parts
        item: dict[str, Any] = {"pointer": base + "/" + "/".join(escape_pointer_part(x) for x in parts) if parts else base or "/",
                                "message": p.message}
        for key in ("node_id", "edge_id", "field"):
            if getattr(p, key, None) is not None:
                item[key] = getattr(p, key)
        out.append(item)
    return out
