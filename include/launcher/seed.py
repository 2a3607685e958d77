"""Data a fresh platform needs: a demo project the admin owns, and the built-in templates."""

from __future__ import annotations

from sqlalchemy import select

from include.db.models import Project, ProjectMember
from include.db.session import session_scope
from include.enums import Role
from include.settings import Settings

DEMO_PROJECT = "demo"


def seed_app_data(settings: Settings) -> None:
    with session_scope(settings.database_url) as session:
        project = session.execute(select(Project).where(Project.slug == DEMO_PROJECT)).scalar_one_or_none()
        if project is None:
            project = Project(slug=DEMO_PROJECT, name="Demo project",
                              description="Created by the run command so a newcomer can start at once.")
            session.add(project)
            session.flush()
        member = session.execute(
            select(ProjectMember).where(ProjectMember.project_id == project.id,
                                        ProjectMember.username == settings.admin_username)
        ).scalar_one_or_none()
        if member is None:
            session.add(ProjectMember(project_id=project.id, username=settings.admin_username, role=Role.admin))
        from include.workflows.templates_store import seed_builtin_templates

        seed_builtin_templates(session)
