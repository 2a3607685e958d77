"""Projects, their members and the repositories they review.

Any authenticated user may create a project and becomes its first admin;
admins manage membership (viewer / editor / admin).  A project always keeps at
least one admin, so it can never become unmanageable.  With the FAB auth
manager every member change is also made in Airflow (their project roles
there), and members must already be Airflow users.

Admins also bind the code-host repositories the project reviews: a webhook
delivery starts only the workflows of the projects bound to its repository
(include/api/routes/webhooks.py).
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from include.api.deps import CurrentUser, DbSession, authorize
from include.api.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable, problem_responses
from include.api.types import (
    Name,
    ProjectSlug,
    RepositoryName,
    RepositoryNamePath,
    RepositoryOwnerPath,
    Slug,
    Text,
)
from include.auth import airflow_roles
from include.auth.access import projects_of, role_in_project
from include.db.models import Project, ProjectMember, ProjectRepository, repository_key
from include.enums import Role

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])

MemberName = Annotated[str, Path(pattern=r"^[^\x00\s/]+$", max_length=200, description="Airflow username")]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug
    name: Name
    description: Text = ""


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Text | None = None


class ProjectOut(BaseModel):
    slug: str
    name: str
    description: str
    role: Role
    created_at: datetime
    repositories: list[str] = Field(default=[], description="Repositories (owner/name) whose webhooks start the "
                                                            "project's workflows")


class MemberPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class MemberOut(BaseModel):
    username: str
    role: Role
    created_at: datetime


class RepositoryAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: RepositoryName = Field(description='"owner/name" on the code host (case-insensitive, like GitHub)')


class RepositoryOut(BaseModel):
    full_name: str
    created_by: str
    created_at: datetime


def _repositories_of(session, project_ids: list[int]) -> dict[int, list[str]]:
    rows = session.execute(
        select(ProjectRepository.project_id, ProjectRepository.full_name)
        .where(ProjectRepository.project_id.in_(project_ids))
        .order_by(ProjectRepository.project_id, ProjectRepository.full_name_key)
    ).all()
    return {project_id: [name for _, name in group] for project_id, group in groupby(rows, key=itemgetter(0))}


def _project_out(project: Project, role: Role, repositories: list[str]) -> ProjectOut:
    return ProjectOut(slug=project.slug, name=project.name, description=project.description, role=role,
                      created_at=project.created_at, repositories=repositories)


# --- Airflow's own permissions (FAB auth manager only; include/auth/airflow_roles.py) --------------------------


def _require_airflow_user(username: str) -> None:
    """With FAB, a new member must be an Airflow user already (the platform creates no logins)."""
    if not airflow_roles.enabled():
        return
    try:
        airflow_roles.require_airflow_user(username)
    except airflow_roles.UnknownAirflowUser as exc:
        raise Unprocessable(str(exc), errors=[{"pointer": "/username", "message": "no Airflow account"}]) from None
    except Exception as exc:
        raise ServiceUnavailable(f"Airflow's users cannot be checked: {exc}") from None


def _sync_airflow_roles(session, username: str, project: str, retry: str = "repeat the request") -> None:
    """After the change is committed, give the user in Airflow exactly the roles of their memberships.

    A failed sync leaves the committed change in place and answers 503 saying
    how to retry (any member change syncs again, and every init syncs everyone).
    """
    if not airflow_roles.enabled():
        return
    session.commit()
    try:
        airflow_roles.sync_after_member_change(session, username, project)
    except Exception as exc:
        raise ServiceUnavailable(f"Saved, but Airflow's permissions of {username!r} are not updated yet ({retry} to"
                                 f" retry): {exc}") from None


# ---------------------------------------------------------------------------------------------------------------


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectOut, summary="Create a project",
             responses=problem_responses(401, 409, 422, 503))
def create_project(body: ProjectCreate, user: CurrentUser, session: DbSession, response: Response) -> ProjectOut:
    """Create a project; the caller becomes its admin."""
    if session.scalar(select(Project.id).where(Project.slug == body.slug)) is not None:
        raise Conflict(f"Project {body.slug!r} already exists",
                       errors=[{"pointer": "/slug", "message": "already taken"}])
    project = Project(slug=body.slug, name=body.name, description=body.description)
    project.members.append(ProjectMember(username=user.username, role=Role.admin))
    session.add(project)
    try:
        session.flush()
    except IntegrityError:  # lost a race for the slug
        session.rollback()
        raise Conflict(f"Project {body.slug!r} already exists",
                       errors=[{"pointer": "/slug", "message": "already taken"}]) from None
    response.headers["Location"] = f"{router.prefix}/{project.slug}"
    _sync_airflow_roles(session, user.username, project.slug,
                        retry=f"PUT {router.prefix}/{project.slug}/members/{user.username} with role admin")
    return _project_out(project, Role.admin, [])


@router.get("", response_model=list[ProjectOut], summary="Projects the caller belongs to",
            responses=problem_responses(401))
def list_projects(user: CurrentUser, session: DbSession) -> list[ProjectOut]:
    roles = projects_of(session, user.username)
    if not roles:
        return []
    projects = session.scalars(select(Project).where(Project.slug.in_(roles)).order_by(Project.slug)).all()
    bound = _repositories_of(session, [p.id for p in projects])
    return [_project_out(p, roles[p.slug], bound.get(p.id, [])) for p in projects]


@router.get("/{project}", response_model=ProjectOut, summary="One project",
            responses=problem_responses(401, 404))
def get_project(project: ProjectSlug, user: CurrentUser, session: DbSession) -> ProjectOut:
    row = authorize(session, user, project, Role.viewer)
    return _project_out(row, role_in_project(session, user.username, project),
                        _repositories_of(session, [row.id]).get(row.id, []))


@router.patch("/{project}", response_model=ProjectOut, summary="Rename or describe a project (admin)",
              responses=problem_responses(401, 403, 404))
def update_project(project: ProjectSlug, body: ProjectUpdate, user: CurrentUser, session: DbSession) -> ProjectOut:
    row = authorize(session, user, project, Role.admin)
    if body.name is not None:
        row.name = body.name
    if body.description is not None:
        row.description = body.description
    return _project_out(row, Role.admin, _repositories_of(session, [row.id]).get(row.id, []))


@router.get("/{project}/members", response_model=list[MemberOut], summary="Members of a project",
            responses=problem_responses(401, 404))
def list_members(project: ProjectSlug, user: CurrentUser, session: DbSession) -> list[MemberOut]:
    row = authorize(session, user, project, Role.viewer)
    members = session.scalars(
        select(ProjectMember).where(ProjectMember.project_id == row.id).order_by(ProjectMember.username)
    ).all()
    return [MemberOut(username=m.username, role=m.role, created_at=m.created_at) for m in members]


def _admin_count(session, project_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(ProjectMember).where(
            ProjectMember.project_id == project_id, ProjectMember.role == Role.admin
        )
    )


@router.put("/{project}/members/{username}", response_model=MemberOut,
            summary="Add a member or change their role (admin)",
            responses={201: {"description": "Member added", "model": MemberOut},
                       **problem_responses(401, 403, 404, 409, 422, 503)})
def put_member(project: ProjectSlug, username: MemberName, body: MemberPut, user: CurrentUser,
               session: DbSession, response: Response) -> MemberOut:
    row = authorize(session, user, project, Role.admin)
    member = session.scalar(
        select(ProjectMember).where(ProjectMember.project_id == row.id, ProjectMember.username == username)
    )
    if member is None:
        _require_airflow_user(username)
        member = ProjectMember(project_id=row.id, username=username, role=body.role)
        session.add(member)
        session.flush()
        response.status_code = status.HTTP_201_CREATED
    else:
        if member.role == Role.admin and body.role != Role.admin and _admin_count(session, row.id) <= 1:
            raise Conflict(f"{username!r} is the last admin of {project!r}; make someone else admin first",
                           errors=[{"pointer": "/role", "message": "a project needs at least one admin"}])
        member.role = body.role
    _sync_airflow_roles(session, username, project)
    return MemberOut(username=member.username, role=member.role, created_at=member.created_at)


@router.delete("/{project}/members/{username}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Remove a member (admin)", responses=problem_responses(401, 403, 404, 409, 503))
def delete_member(project: ProjectSlug, username: MemberName, user: CurrentUser, session: DbSession) -> Response:
    row = authorize(session, user, project, Role.admin)
    member = session.scalar(
        select(ProjectMember).where(ProjectMember.project_id == row.id, ProjectMember.username == username)
    )
    if member is None:
        _sync_airflow_roles(session, username, project)  # a retry after a failed sync still revokes in Airflow
        raise NotFound(f"{username!r} is not a member of {project!r}")
    if member.role == Role.admin and _admin_count(session, row.id) <= 1:
        raise Conflict(f"{username!r} is the last admin of {project!r}; make someone else admin first")
    session.delete(member)
    _sync_airflow_roles(session, username, project)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- repositories the project reviews ----------------------------------------------------------------------------


def _repository_out(row: ProjectRepository) -> RepositoryOut:
    return RepositoryOut(full_name=row.full_name, created_by=row.created_by, created_at=row.created_at)


@router.get("/{project}/repositories", response_model=list[RepositoryOut],
            summary="Repositories whose webhook deliveries start this project's workflows",
            responses=problem_responses(401, 404))
def list_repositories(project: ProjectSlug, user: CurrentUser, session: DbSession) -> list[RepositoryOut]:
    row = authorize(session, user, project, Role.viewer)
    rows = session.scalars(
        select(ProjectRepository).where(ProjectRepository.project_id == row.id)
        .order_by(ProjectRepository.full_name_key)
    ).all()
    return [_repository_out(r) for r in rows]


@router.post("/{project}/repositories", status_code=status.HTTP_201_CREATED, response_model=RepositoryOut,
             summary="Bind a repository to the project (admin)",
             description="One repository may be bound to several projects; each of them then runs its own "
                         "workflows for the repository's deliveries.",
             responses=problem_responses(401, 403, 404, 409, 422))
def add_repository(project: ProjectSlug, body: RepositoryAdd, user: CurrentUser, session: DbSession,
                   response: Response) -> RepositoryOut:
    row = authorize(session, user, project, Role.admin)
    key = repository_key(body.full_name)
    taken = Conflict(f"{body.full_name!r} is already bound to {project!r}",
                     errors=[{"pointer": "/full_name", "message": "already bound to this project"}])
    if session.scalar(select(ProjectRepository.id).where(ProjectRepository.project_id == row.id,
                                                         ProjectRepository.full_name_key == key)) is not None:
        raise taken
    binding = ProjectRepository(project_id=row.id, full_name=body.full_name, full_name_key=key,
                                created_by=user.username)
    session.add(binding)
    try:
        session.flush()
    except IntegrityError:  # lost a race for the same binding
        session.rollback()
        raise taken from None
    response.headers["Location"] = f"{router.prefix}/{project}/repositories/{body.full_name}"
    return _repository_out(binding)


@router.delete("/{project}/repositories/{owner}/{name}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Unbind a repository from the project (admin)", responses=problem_responses(401, 403, 404, 422))
def delete_repository(project: ProjectSlug, owner: RepositoryOwnerPath, name: RepositoryNamePath, user: CurrentUser,
                      session: DbSession) -> Response:
    row = authorize(session, user, project, Role.admin)
    binding = session.scalar(select(ProjectRepository).where(
        ProjectRepository.project_id == row.id, ProjectRepository.full_name_key == repository_key(f"{owner}/{name}")))
    if binding is None:
        raise NotFound(f"{owner}/{name} is not bound to {project!r}")
    session.delete(binding)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
