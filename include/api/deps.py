"""FastAPI dependencies shared by every platform route: who is calling, and a DB session.

Airflow does not authenticate plugin FastAPI apps, so every route depends on
:func:`current_user`.  It accepts the JWT Airflow issues (``POST /auth/token``)
as a bearer token, or the Airflow UI's session cookie (the editor runs inside
the Airflow UI and has no other credential).

Inside Airflow's API server the token is resolved through Airflow's own auth
manager (``get_auth_manager().get_user_from_token``), exactly as Airflow's
routes do: that honours revoked tokens and auth managers whose ``sub`` is not
the username (FAB puts the user id there).  Anywhere else (tests serving the
app on its own, the benchmark) the auth manager is not initialised and the
token is verified with the shared secret by :func:`include.auth.tokens.verify_token`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from include.api.errors import Forbidden, NotFound, Unauthorized
from include.auth.access import role_in_project
from include.auth.tokens import Identity, TokenError, verify_token
from include.db.models import Project
from include.db.session import session_scope
from include.enums import Role

log = logging.getLogger(__name__)

AIRFLOW_UI_TOKEN_COOKIE = "_token"

# Declares the bearer scheme in the OpenAPI document; the value is read below.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AirflowJWT",
    description="A JWT from Airflow's `POST /auth/token` (or the Airflow UI's `_token` cookie).",
)


def _token_from(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(AIRFLOW_UI_TOKEN_COOKIE)


def _airflow_auth_manager() -> Any | None:
    """Airflow's auth manager when this process is Airflow's API server, else None."""
    if "airflow.api_fastapi.app" not in sys.modules:
        # The API server imported it long before serving us; anywhere else we
        # must not pay for importing Airflow on every request.
        return None
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager()
    except (ImportError, RuntimeError):  # not initialised: not serving inside the API server
        return None


def _trusted_airflow_user(request: Request) -> Any | None:
    """The user Airflow's JWT-refresh middleware already resolved from the UI cookie, if any."""
    user = getattr(request.state, "user", None)
    if user is None:
        return None
    try:
        from airflow.api_fastapi.core_api.security import USER_INJECTED_BY_TRUSTED_MIDDLEWARE
    except ImportError:
        return None
    if getattr(request.state, "user_authenticated_via", None) is USER_INJECTED_BY_TRUSTED_MIDDLEWARE:
        return user
    return None


def _unverified_claims(token: str) -> dict:
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}


async def _identity_via_airflow(auth_manager: Any, request: Request, token: str | None) -> Identity:
    has_bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
    if not has_bearer:
        user = _trusted_airflow_user(request)
        if user is not None:
            return Identity(username=user.get_name(), expires_at=0.0, claims={})
    if not token:
        raise Unauthorized("Authentication required: missing token")
    try:
        user = await auth_manager.get_user_from_token(token)
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Authentication required: token expired") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"Authentication required: invalid token ({exc})") from None
    except (KeyError, TypeError, ValueError) as exc:  # signed, but not a user this auth manager knows
        raise Unauthorized(f"Authentication required: token does not describe an Airflow user ({exc})") from None
    claims = _unverified_claims(token)
    return Identity(username=user.get_name(), expires_at=float(claims.get("exp", 0)), claims=claims)


async def current_user(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Identity:
    """The authenticated caller, or 401 problem+json saying why not."""
    token = _token_from(request)
    auth_manager = _airflow_auth_manager()
    if auth_manager is not None:
        return await _identity_via_airflow(auth_manager, request, token)
    try:
        return verify_token(token)
    except TokenError as exc:
        raise Unauthorized(f"Authentication required: {exc.reason}") from None


def db_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


CurrentUser = Annotated[Identity, Depends(current_user)]
#: Committed when the route function returns, before the answer is sent (FastAPI's default ends a yield
#: dependency after sending: a client could read its own 201 before the row was there, or get a success
#: whose commit then failed).
DbSession = Annotated[Session, Depends(db_session, scope="function")]


def authorize(session: Session, user: Identity, project_slug: str, needed: Role) -> Project:
    """Return the project if the user holds ``needed`` there.

    A non-member gets 404 (the project's existence is not revealed); a member
    with too weak a role gets 403 naming the role needed.
    """
    project = session.query(Project).filter_by(slug=project_slug).one_or_none()
    role = role_in_project(session, user.username, project_slug) if project is not None else None
    if project is None or role is None:
        raise NotFound(f"Project {project_slug!r} not found")
    if role.rank < needed.rank:
        raise Forbidden(
            f"Role {needed.value!r} in project {project_slug!r} is required (you are {role.value!r})"
        )
    return project


def authorize_project_id(session: Session, user: Identity, project_id: int, needed: Role) -> Project:
    """Like :func:`authorize` for routes that reach the project through a stored row."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"Project {project_id} not found")
    return authorize(session, user, project.slug, needed)
