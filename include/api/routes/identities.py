"""Code-host identities: which platform user a GitHub login is, so feedback given on GitHub is theirs.

Feedback from the code host (reply commands, reactions, resolved threads:
``include.reviews.feedback_sources``) arrives under a GitHub login.  A linked
login is recorded as its platform user; an unlinked one as that project's
member of the same name, else as ``github:<login>``.

Shape of the routes: a link (``CodeHostIdentity``) is *global* — one row per
provider and login, looked up before any project is known — because a person
is one GitHub user whatever project reviews their pull requests.  The routes
sit under a project all the same, since that is where authority over people
lives here: a project's admin links a login to a *member* of the project; the
listing shows the links of the project's members; an admin may replace or
remove only a link whose user is a member of the project (a login linked to
someone outside it is theirs to keep: 409).  So no project can take over, or
read, another project's people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from include.api.deps import CurrentUser, DbSession, authorize
from include.api.errors import Conflict, NotFound, Unprocessable, problem_responses
from include.api.types import REPOSITORY_OWNER, ProjectSlug, Username
from include.db.models import CodeHostIdentity, ProjectMember
from include.enums import Role
from include.reviews.feedback_sources import PROVIDER, link_identity

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])

Login = Annotated[str, Path(pattern=rf"^{REPOSITORY_OWNER}(\[bot\])?$", max_length=45,
                            description="GitHub login (case-insensitive, as GitHub compares them)")]  # fmt: skip


class IdentityPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username


class IdentityOut(BaseModel):
    provider: str
    login: str
    username: str
    created_at: datetime


def _out(row: CodeHostIdentity) -> IdentityOut:
    return IdentityOut(provider=row.provider, login=row.login, username=row.username, created_at=row.created_at)


def _members(session, project_id: int) -> set[str]:
    return set(session.scalars(select(ProjectMember.username).where(ProjectMember.project_id == project_id)))


def _link(session, login: str) -> CodeHostIdentity | None:
    return session.scalar(
        select(CodeHostIdentity).where(
            CodeHostIdentity.provider == PROVIDER, CodeHostIdentity.login_key == login.lower()
        )
    )


@router.get(
    "/{project}/codehost-identities",
    response_model=list[IdentityOut],
    summary="GitHub logins linked to the project's members",
    responses=problem_responses(401, 404),
)
def list_identities(project: ProjectSlug, user: CurrentUser, session: DbSession) -> list[IdentityOut]:
    row = authorize(session, user, project, Role.viewer)
    members = _members(session, row.id)
    if not members:
        return []
    rows = session.scalars(select(CodeHostIdentity).where(CodeHostIdentity.provider == PROVIDER,
                                                          CodeHostIdentity.username.in_(members))
                           .order_by(CodeHostIdentity.login_key)).all()  # fmt: skip
    return [_out(r) for r in rows]


@router.put("/{project}/codehost-identities/{login}", response_model=IdentityOut,
            summary="Link a GitHub login to a member of the project (admin)",
            description="Feedback that login gives on GitHub is then recorded as the member's. "
                        "The link is global (one user per login); see the module documentation.",
            responses={201: {"description": "Linked", "model": IdentityOut},
                       **problem_responses(401, 403, 404, 409, 422)})  # fmt: skip
def put_identity(project: ProjectSlug, login: Login, body: IdentityPut, user: CurrentUser, session: DbSession,
                 response: Response) -> IdentityOut:  # fmt: skip
    row = authorize(session, user, project, Role.admin)
    members = _members(session, row.id)
    if body.username not in members:
        raise Unprocessable(
            f"{body.username!r} is not a member of {project!r}",
            errors=[{"pointer": "/username", "message": "must be a member of the project"}],
        )
    existing = _link(session, login)
    if existing is not None and existing.username not in members:
        raise Conflict(
            f"GitHub login {login!r} is linked to a user outside {project!r}; only they or a project "
            "of theirs can change it",
            errors=[{"pointer": "/login", "message": "linked elsewhere"}],
        )
    linked = link_identity(session, login, body.username)
    if existing is None:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"{router.prefix}/{project}/codehost-identities/{linked.login}"
    return _out(linked)


@router.delete(
    "/{project}/codehost-identities/{login}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unlink a GitHub login from a member of the project (admin)",
    responses=problem_responses(401, 403, 404, 422),
)
def delete_identity(project: ProjectSlug, login: Login, user: CurrentUser, session: DbSession) -> Response:
    row = authorize(session, user, project, Role.admin)
    existing = _link(session, login)
    if existing is None or existing.username not in _members(session, row.id):
        raise NotFound(f"GitHub login {login!r} is not linked to a member of {project!r}")
    session.delete(existing)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
