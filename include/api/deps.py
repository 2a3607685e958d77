"""FastAPI dependencies shared by every platform route: who is calling, and a DB session.

Airflow does not authenticate plugin FastAPI apps, so every route depends on
:func:`current_user`.  It accepts the JWT Airflow issues (``POST /auth/token``)
as a bearer token, or the Airflow UI's session cookie (the editor runs inside
the Airflow UI and has no other credential).
"""

from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from include.api.errors import Forbidden, NotFound, Unauthorized
from include.auth.access import AccessDenied, require_role
from include.auth.tokens import Identity, TokenError, verify_token
from include.db.models import Project, Role
from include.db.session import session_scope

AIRFLOW_UI_TOKEN_COOKIE = "_token"


def _token_from(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(AIRFLOW_UI_TOKEN_COOKIE)


def current_user(request: Request) -> Identity:
    try:
        return verify_token(_token_from(request))
    except TokenError as exc:
        raise Unauthorized(f"Authentication required: {exc.reason}") from None


def db_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


CurrentUser = Annotated[Identity, Depends(current_user)]
DbSession = Annotated[Session, Depends(db_session)]


def authorize(session: Session, user: Identity, project_slug: str, needed: Role) -> Project:
    """Return the project if the user holds ``needed`` there.

    A non-member gets 404 (the project's existence is not revealed); a member
    with too weak a role gets 403 naming the role needed.
    """
    project = session.query(Project).filter_by(slug=project_slug).one_or_none()
    try:
        if project is None:
            raise AccessDenied(user.username, project_slug, needed)
        require_role(session, user.username, project_slug, needed)
    except AccessDenied:
        from include.auth.access import role_in_project

        if project is not None and role_in_project(session, user.username, project_slug) is not None:
            raise Forbidden(f"Role {needed.value!r} in project {project_slug!r} is required") from None
        raise NotFound(f"Project {project_slug!r} not found") from None
    return project
