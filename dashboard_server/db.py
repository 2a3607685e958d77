"""The sidecar's reads of the app database (membership, replay, feed, catch-up sweep).

All functions are synchronous SQLAlchemy calls; the Socket.IO handlers run
them with ``asyncio.to_thread`` so a slow query never stalls the event loop
that writes frames to every client.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from include.auth.access import projects_of
from include.db.models import ExecutionEvent, Project, ProjectMember
from include.db.session import get_engine, session_scope
from include.events import store
from include.events.store import event_to_wire

REPLAY_PAGE = 500


_members = ProjectMember.__table__
_projects = Project.__table__
_ROLE_OF = (
    select(_members.c.role)
    .select_from(_members.join(_projects, _projects.c.id == _members.c.project_id))
    .where(_projects.c.slug == bindparam("slug"), _members.c.username == bindparam("username"))
)


def role_of(username: str, project: str) -> str | None:
    """The caller's role in ``project`` (``include.auth.access.role_in_project``'s query), None if no member.

    One Core statement on a pooled connection, not an ORM session: every join
    runs it, and an ORM session costs several times the CPU per call -- which
    adds up when every client of a deploy reconnects and joins at once.
    """
    with get_engine().connect() as conn:
        role = conn.execute(_ROLE_OF, {"slug": project, "username": username}).scalar_one_or_none()
    return role.value if role is not None else None


_ROLES_OF = (
    select(_members.c.username, _projects.c.slug, _members.c.role)
    .select_from(_members.join(_projects, _projects.c.id == _members.c.project_id))
    .where(_projects.c.slug.in_(bindparam("slugs", expanding=True)),
           _members.c.username.in_(bindparam("usernames", expanding=True)))
)


def roles_of(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The role of each ``(username, project)`` pair that is a membership (pairs that are not are absent).

    :func:`role_of` for many callers at once, in one statement: what
    :class:`dashboard_server.membership.MembershipChecks` asks when many
    joins arrive together.
    """
    if not pairs:
        return {}
    wanted = set(pairs)
    with get_engine().connect() as conn:
        rows = conn.execute(_ROLES_OF, {"slugs": sorted({p for _, p in wanted}),
                                        "usernames": sorted({u for u, _ in wanted})}).all()
    return {(username, slug): role.value for username, slug, role in rows if (username, slug) in wanted}


def member_projects(username: str) -> dict[str, str]:
    with session_scope() as session:
        return {slug: role.value for slug, role in projects_of(session, username).items()}


def events_after(project: str, after_id: int, limit: int = REPLAY_PAGE) -> list[dict]:
    """One page of a project's events with id > after_id, oldest first (replay)."""
    with session_scope() as session:
        return store.events_after(session, [project], after_id, limit)


def feed_page(project: str, before_id: int | None, limit: int) -> list[dict]:
    """A page of a project's activity, newest first; page on with ``before_id``."""
    with session_scope() as session:
        return store.events_before(session, [project], before_id, limit)


def run_events(project: str, dag_id: str, run_id: str) -> list[dict]:
    """Every event of one DAG run, oldest first."""
    with session_scope() as session:
        return store.run_events(session, project, dag_id, run_id)


def max_event_id() -> int:
    with session_scope() as session:
        return store.latest_event_id(session)


def ids_after(after_id: int, limit: int = 5000) -> list[int]:
    """Ids of every event with id > after_id (all projects), ascending: the sweep's cheap first look."""
    with session_scope() as session:
        return list(
            session.scalars(
                select(ExecutionEvent.id).where(ExecutionEvent.id > after_id).order_by(ExecutionEvent.id).limit(limit)
            )
        )


def events_by_ids(ids: list[int]) -> list[dict]:
    """The wire form of the given events, ascending by id (what the sweep found missing)."""
    with session_scope() as session:
        rows = session.scalars(select(ExecutionEvent).where(ExecutionEvent.id.in_(ids)).order_by(ExecutionEvent.id))
        return [event_to_wire(row) for row in rows]
