"""Project roles: who may read, edit or administer a project."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from include.db.models import Project, ProjectMember
from include.enums import Role


class AccessDenied(Exception):
    """The user lacks the role the action needs (``project`` is the project slug)."""

    def __init__(self, username: str, project: str, needed: Role):
        super().__init__(f"user {username!r} needs role {needed.value!r} in project {project!r}")
        self.username, self.project, self.needed = username, project, needed


def role_in_project(session: Session, username: str, project_slug: str) -> Role | None:
    stmt = (
        select(ProjectMember.role)
        .join(Project, Project.id == ProjectMember.project_id)
        .where(Project.slug == project_slug, ProjectMember.username == username)
    )
    return session.execute(stmt).scalar_one_or_none()


def require_role(session: Session, username: str, project_slug: str, needed: Role) -> Role:
    """Return the user's role, or raise AccessDenied when it is weaker than ``needed``."""
    role = role_in_project(session, username, project_slug)
    if role is None or role.rank < needed.rank:
        raise AccessDenied(username, project_slug, needed)
    return role


def projects_of(session: Session, username: str) -> dict[str, Role]:
    """Every project slug the user belongs to, with the role there."""
    stmt = (
        select(Project.slug, ProjectMember.role)
        .join(ProjectMember, Project.id == ProjectMember.project_id)
        .where(ProjectMember.username == username)
    )
    return {slug: role for slug, role in session.execute(stmt).all()}
