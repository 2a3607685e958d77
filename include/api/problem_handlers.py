"""Install problem+json rendering on the FastAPI app, and make its OpenAPI document say so.

Every error an API route can produce — a :class:`~include.api.errors.ProblemError`,
FastAPI's request validation, Starlette's HTTP errors (a path no route has is
the same ``not-found`` problem as a missing workflow), and an unexpected
exception (logged with its traceback) — is answered in the same
``application/problem+json`` shape, and the generated OpenAPI document is
patched to declare exactly that.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from include.api.errors import (
    PROBLEM_JSON,
    STATUS_TEXT,
    NotFound,
    ProblemDetails,
    ProblemError,
    ProblemItem,
    Unprocessable,
    if_match_required,
    pointer,
)


def _problem_response(request: Request, problem: ProblemError) -> JSONResponse:
    return JSONResponse(problem.body(request.url.path), status_code=problem.status,
                        media_type=PROBLEM_JSON, headers=problem.headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return _problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("header", "if-match") for e in exc.errors()):
            return _problem_response(request, if_match_required())  # a precondition, checked before the body
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
        if exc.status_code == 404:  # no route: the same problem type as a missing workflow or project
            return _problem_response(request, NotFound(f"No resource at {request.url.path}", headers=exc.headers))
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
                    responses["422"] = {"description": STATUS_TEXT[422], "content": {PROBLEM_JSON: {"schema": problem_ref}}}
                if operation.get("requestBody"):  # unparseable bodies (not JSON at all)
                    responses.setdefault("400", {"description": STATUS_TEXT[400]})
                if operation.get("security"):
                    responses.setdefault("401", {"description": STATUS_TEXT[401]})
                for code, response in responses.items():
                    if code[0] in "45":
                        response["content"] = {PROBLEM_JSON: {"schema": problem_ref}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
