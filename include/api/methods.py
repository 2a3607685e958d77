"""HEAD and OPTIONS on every resource, and a 405 that names the methods a path does answer.

FastAPI routes answer only the methods they declare, and Starlette's 405
names the methods of the first route whose path matched — not of every route
on that path (``GET`` and ``POST /projects`` are two routes).  One ASGI
middleware gives every path what HTTP clients expect (RFC 9110):

* ``OPTIONS`` answers ``204`` with ``Allow`` listing every method of every
  route on the path (no credentials needed: it says what exists, not what
  is stored);
* ``HEAD`` runs the path's ``GET`` — same authentication, status and
  headers, ``Content-Length`` included — and sends no body;
* any other method the path does not answer is ``405`` problem+json with
  that same ``Allow``.

Paths no route matches are left to the router (its 404).  The routes are
read from the app's router when needed, so routers included after the
middleware was added count too, and the OpenAPI document stays as it is.
Matching the path against every route costs tens of microseconds, so it is
done only for HEAD, OPTIONS and an answer the router already made a 405 —
never for the requests a route answers (predictions, webhooks).
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from include.api.errors import PROBLEM_JSON, ProblemError


class MethodNotAllowed(ProblemError):
    status, title, slug = 405, "Method not allowed", "method-not-allowed"


def allowed_methods(router: Router, scope: Scope) -> set[str]:
    """Every method some route answers on the request's path (empty when no route's path matches)."""
    methods: set[str] = set()
    for route in router.routes:
        match, _ = route.matches(scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return methods | {"OPTIONS"} if methods else methods


class MethodsMiddleware:
    def __init__(self, app: ASGIApp, router: Router):
        self.app, self.router = app, router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in ("HEAD", "OPTIONS"):
            await self.app(scope, receive, self._full_405(scope, receive, send))
            return
        allowed = allowed_methods(self.router, scope)
        if not allowed:
            await self.app(scope, receive, send)
        elif method == "OPTIONS":
            await Response(status_code=204, headers=_allow(allowed))(scope, receive, send)
        elif method not in allowed:
            await self._method_not_allowed(scope, receive, send, allowed)
        else:  # HEAD of a path with GET
            await self.app({**scope, "method": "GET"}, receive, _without_body(send))

    def _full_405(self, scope: Scope, receive: Receive, send: Send) -> Send:
        """``send`` that replaces the router's 405 (it names one route's methods) with one naming them all."""
        replaced = False

        async def send_or_replace(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 405:
                replaced = True
                await self._method_not_allowed(scope, receive, send, allowed_methods(self.router, scope))
            elif not replaced:
                await send(message)

        return send_or_replace

    @staticmethod
    async def _method_not_allowed(scope: Scope, receive: Receive, send: Send, allowed: set[str]) -> None:
        allow = _allow(allowed)
        problem = MethodNotAllowed(f"{scope['method']} is not a method of this resource; it answers {allow['Allow']}",
                                   headers=allow)
        await JSONResponse(problem.body(scope["path"]), status_code=405, media_type=PROBLEM_JSON,
                           headers=allow)(scope, receive, send)


def _allow(allowed: set[str]) -> dict[str, str]:
    return {"Allow": ", ".join(sorted(allowed))}


def _without_body(send: Send) -> Send:
    """``send`` that passes the status and headers on and ends the response without its body."""

    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            if not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send(message)

    return send_head
