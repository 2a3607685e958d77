"""Projects isolated in Airflow itself: FAB roles per project, kept in step with the app DB's members.

With ``AUTOPR_AIRFLOW_AUTH_MANAGER=fab`` Airflow's UI and REST API authorize
through the FAB auth manager instead of the one-machine SimpleAuthManager
(where the one admin login sees every DAG).  Every project then has three FAB
roles, ``autopr:<project>:viewer|editor|admin``:

* each workflow DAG's ``access_control`` (:func:`dag_access_control`, set by
  the DAG builder from the workflow's project slug alone, since parsing a DAG
  touches no database) grants those roles read / read and trigger / read,
  trigger and delete on that DAG and its runs; Airflow's DAG processor writes
  the grants into FAB's tables every time it parses the DAG;
* the roles themselves carry the global permissions on a DAG's sub-entities
  (task instances, logs, XComs, code, ...).  FAB checks those *together with*
  the DAG-level grant, so they open nothing of another project;
* a member holds exactly the role of each of their memberships; their other
  FAB roles (Admin, roles an operator gave them) are never touched.

The roles and users are written through the FAB provider's REST API
(``/auth/fab/v1/roles``, ``/auth/fab/v1/users``) as the platform's service
account (``AUTOPR_AIRFLOW_API_USERNAME``, which must hold FAB's Admin role):
after every member change by the platform API, and for every project at each
init (``python -m include.auth.airflow_roles``, through Airflow's API app in
process, before any API server runs), which also repairs a sync that failed.

Project members must be Airflow users: FAB keeps the logins (its database, or
LDAP/OAuth when configured in ``webserver_config.py``), the platform invents
no credentials.  Adding a member who has no Airflow account is refused
(:class:`UnknownAirflowUser`); a member whose account was deleted later is
skipped by the sync and reported.  Give members no FAB role of their own that
reads DAGs globally (FAB's Viewer, User and Op do): the init step creates
``AutoPR Member`` (:data:`BASE_ROLE`, the UI's own pages and nothing else) to
create users with, or to name as ``AUTH_USER_REGISTRATION_ROLE`` in
``webserver_config.py`` for LDAP/OAuth users.

FAB caches a user's permissions per API server process for ``[fab]
cache_ttl`` seconds, so a role change reaches tokens already in use within
that time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import quote

log = logging.getLogger(__name__)

# Tokens must name the user as well as FAB's numeric id (see include/auth/fab_auth_manager.py).
FAB_AUTH_MANAGER = "include.auth.fab_auth_manager.AutoprFabAuthManager"
ROLE_PREFIX = "autopr:"
BASE_ROLE = "AutoPR Member"  # what to create Airflow users with: the UI's pages, no DAG (not ROLE_PREFIX: never synced)
LEVELS = ("viewer", "editor", "admin")  # include.enums.Role, weakest first (not imported: DAG parse time)

# DAG-level grants per project role (FAB's "DAGs" and "DAG Runs" resources of one DAG).
_DAG_GRANTS: dict[str, dict[str, frozenset[str]]] = {
    "viewer": {"DAGs": frozenset({"can_read"}), "DAG Runs": frozenset({"can_read"})},
    "editor": {"DAGs": frozenset({"can_read", "can_edit"}), "DAG Runs": frozenset({"can_read", "can_create"})},
    "admin": {"DAGs": frozenset({"can_read", "can_edit", "can_delete"}),
              "DAG Runs": frozenset({"can_read", "can_create", "can_delete"})},
}

# Global permissions of each project role: only DAG sub-entities (FAB also demands the DAG-level grant for
# them, and lists filter by the DAGs the user may read) plus the UI's own pages; nothing global like
# connections, variables, pools or every DAG ("DAGs" itself is never granted globally).
_BASE = [("can_read", "Website"), ("can_read", "My Password"), ("can_edit", "My Password"),
         ("can_read", "My Profile"), ("can_edit", "My Profile")]
_VIEW = [
    *_BASE,
    *(("can_read", r) for r in ("DAG Runs", "Task Instances", "Task Logs", "XComs", "DAG Code", "DAG Dependencies",
                                "DAG Versions", "DAG Warnings", "HITL Detail")),
    *(("menu_access", r) for r in ("Browse", "DAGs", "DAG Runs", "Task Instances", "DAG Dependencies", "Docs",
                                   "Documentation")),
]
_EDIT = [("can_create", "DAG Runs"), ("can_edit", "DAG Runs"), ("can_create", "Task Instances"),
         ("can_edit", "Task Instances"), ("can_edit", "HITL Detail")]
_ADMIN = [("can_delete", "DAG Runs"), ("can_delete", "Task Instances")]
_GLOBAL_GRANTS: dict[str, frozenset[tuple[str, str]]] = {
    "viewer": frozenset(_VIEW),
    "editor": frozenset(_VIEW + _EDIT),
    "admin": frozenset(_VIEW + _EDIT + _ADMIN),
}
_DAG_RESOURCE_PREFIXES = ("DAG:", "DAG Run:")  # FAB's per-DAG resources, granted by the DAG processor


def role_name(project: str, level: str) -> str:
    return f"{ROLE_PREFIX}{project}:{level}"


def dag_access_control(project: str) -> dict[str, dict[str, set[str]]]:
    """The ``access_control`` of a workflow DAG of ``project``: its three roles and what each may do."""
    return {role_name(project, level): {resource: set(actions) for resource, actions in grants.items()}
            for level, grants in _DAG_GRANTS.items()}


def enabled(settings: Any = None) -> bool:
    if settings is None:
        from include.settings import get_settings

        settings = get_settings()
    return settings.airflow_auth_manager == "fab"


class UnknownAirflowUser(Exception):
    """A project member must first have an Airflow (FAB) account."""

    def __init__(self, username: str):
        super().__init__(f"{username!r} has no Airflow account: create it in Airflow first (Security > Users,"
                         " `airflow users create`, or their first LDAP/OAuth login)")
        self.username = username


class Api(Protocol):
    """Airflow's REST API, authenticated: ``request`` raises AirflowError on an error status."""

    def request(self, method: str, path: str, **kwargs: Any) -> Any: ...


def _q(value: str) -> str:
    return quote(value, safe="")


def _missing(exc: Exception) -> bool:
    from include.airflow_client import AirflowError

    return isinstance(exc, AirflowError) and exc.status == 404


def _perm(action: str, resource: str) -> dict[str, dict[str, str]]:
    return {"action": {"name": action}, "resource": {"name": resource}}


# --- roles and users through FAB's REST API --------------------------------------------------------------


def ensure_project_roles(api: Api, project: str) -> list[str]:
    """Create the project's three roles, or give existing ones their global permissions; returns those changed.

    The DAG-level grants the DAG processor added to a role are kept: only the
    global permissions are compared and replaced.
    """
    from include.airflow_client import AirflowError

    changed = []
    for level in LEVELS:
        name = role_name(project, level)
        wanted = _GLOBAL_GRANTS[level]
        try:
            current = api.request("GET", f"/auth/fab/v1/roles/{_q(name)}").json()
        except AirflowError as exc:
            if not _missing(exc):
                raise
            try:
                api.request("POST", "/auth/fab/v1/roles",
                            json={"name": name, "actions": [_perm(a, r) for a, r in sorted(wanted)]})
            except AirflowError as race:
                if race.status != 409:  # another process created it meanwhile: compare below next time
                    raise
            changed.append(name)
            continue
        have = {(p["action"]["name"], p["resource"]["name"]) for p in current.get("actions") or []}
        per_dag = {p for p in have if p[1].startswith(_DAG_RESOURCE_PREFIXES)}
        if have - per_dag != wanted:
            api.request("PATCH", f"/auth/fab/v1/roles/{_q(name)}", params={"update_mask": "actions"},
                        json={"name": name, "actions": [_perm(a, r) for a, r in sorted(per_dag | wanted)]})
            changed.append(name)
    return changed


def ensure_base_role(api: Api) -> bool:
    """The role to create Airflow users with (:data:`BASE_ROLE`), made when missing; True if it was.

    FAB wants every user created to hold a role, and its own (Viewer, User,
    Op) read every DAG.  This one grants only the UI's own pages, so a user
    holding it sees nothing but what their project roles add.  An existing one
    is left as the operator made it.
    """
    from include.airflow_client import AirflowError

    try:
        api.request("GET", f"/auth/fab/v1/roles/{_q(BASE_ROLE)}")
        return False
    except AirflowError as exc:
        if not _missing(exc):
            raise
    try:
        api.request("POST", "/auth/fab/v1/roles",
                    json={"name": BASE_ROLE, "actions": [_perm(a, r) for a, r in sorted(_BASE)]})
    except AirflowError as exc:
        if exc.status != 409:
            raise
    return True


def airflow_user(api: Api, username: str) -> dict[str, Any] | None:
    """The FAB user, or None when Airflow has no account of that name."""
    try:
        return api.request("GET", f"/auth/fab/v1/users/{_q(username)}").json()
    except Exception as exc:
        if _missing(exc):
            return None
        raise


def sync_user(api: Api, username: str, memberships: Mapping[str, str], user: dict[str, Any] | None = None) -> bool:
    """Give the user exactly the project roles of ``memberships`` ({project: level}); False if no such user.

    Their roles that are not the platform's stay as they are.
    """
    user = user if user is not None else airflow_user(api, username)
    if user is None:
        return False
    current = [r["name"] for r in user.get("roles") or []]
    wanted = [r for r in current if not r.startswith(ROLE_PREFIX)]
    wanted += sorted(role_name(project, str(level)) for project, level in memberships.items())
    if sorted(current) != sorted(wanted):
        api.request("PATCH", f"/auth/fab/v1/users/{_q(username)}", params={"update_mask": "roles"},
                    json={"roles": [{"name": name} for name in wanted]})
    return True


def _fab_users(api: Api, page: int = 100) -> Iterable[dict[str, Any]]:
    offset = 0
    while True:
        body = api.request("GET", "/auth/fab/v1/users", params={"limit": page, "offset": offset,
                                                                "order_by": "id"}).json()
        yield from body["users"]
        offset += len(body["users"])
        if not body["users"] or offset >= body["total_entries"]:
            return


def _memberships(session: Any, username: str | None = None) -> dict[str, dict[str, str]]:
    """{username: {project: level}} from the app DB (one user's, or everyone's)."""
    from sqlalchemy import select

    from include.db.models import Project, ProjectMember

    stmt = select(ProjectMember.username, Project.slug, ProjectMember.role).join(
        Project, Project.id == ProjectMember.project_id)
    if username is not None:
        stmt = stmt.where(ProjectMember.username == username)
    out: dict[str, dict[str, str]] = {}
    for name, slug, role in session.execute(stmt).all():
        out.setdefault(name, {})[slug] = role.value
    return out


def sync_all(api: Api, session: Any) -> dict[str, Any]:
    """Every project's roles and every user's project roles, from the app DB (the init step's repair)."""
    from sqlalchemy import select

    from include.db.models import Project

    ensure_base_role(api)
    projects = session.scalars(select(Project.slug).order_by(Project.slug)).all()
    roles_changed = [name for slug in projects for name in ensure_project_roles(api, slug)]
    members = _memberships(session)
    synced, seen = 0, set()
    for user in list(_fab_users(api)):
        name = user["username"]
        seen.add(name)
        holds_ours = any(r["name"].startswith(ROLE_PREFIX) for r in user.get("roles") or [])
        if name in members or holds_ours:
            sync_user(api, name, members.get(name, {}), user)
            synced += 1
    missing = sorted(set(members) - seen)
    if missing:
        log.warning("project members without an Airflow account (no Airflow access until one exists): %s",
                    ", ".join(missing))
    return {"projects": len(projects), "roles_changed": len(roles_changed), "users": synced,
            "members_without_account": missing}


# --- called by the platform API (include/api/routes/projects.py) -----------------------------------------


def service_api() -> Api:
    """Airflow's REST API as the platform's service account (its token cached per process)."""
    from include.airflow_client import AirflowClient

    return AirflowClient()


def require_airflow_user(username: str, api: Api | None = None) -> None:
    """Refuse a new member who has no Airflow account (raises UnknownAirflowUser)."""
    if airflow_user(api or service_api(), username) is None:
        raise UnknownAirflowUser(username)


def sync_after_member_change(session: Any, username: str, project: str, api: Api | None = None) -> None:
    """After a committed member change: the project's roles exist, the user holds their memberships' roles.

    Reads the committed memberships of every project of the user, so
    concurrent changes to the same user end in the state the database holds.
    """
    api = api or service_api()
    ensure_project_roles(api, project)
    sync_user(api, username, _memberships(session, username).get(username, {}))


# --- the init step: admin login and a full sync, before any API server runs -------------------------------


def ensure_admin(username: str, password: str) -> str:
    """The admin login as a FAB user with the Admin role and the configured password (created, or repaired)."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        admin = sm.find_role("Admin")
        user = sm.find_user(username=username)
        if user is None:
            if not sm.add_user(username=username, first_name="AutoPR", last_name="Admin",
                               email=f"{username}@autopr.invalid", role=admin, password=password):
                raise RuntimeError(f"could not create the Airflow admin user {username!r}")
            return "created"
        outcome = "kept"
        if admin not in user.roles:
            user.roles.append(admin)
            sm.update_user(user)
            outcome = "updated"
        if not sm.check_password(username, password):
            sm.reset_password(user.id, password)
            outcome = "updated"
        return outcome


def sync_in_process(username: str, password: str, database_url: str) -> dict[str, Any]:
    """Admin login, then :func:`sync_all` through Airflow's API app in this process (configured by its env)."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    from include.airflow_client import AirflowError
    from include.db.session import session_scope

    admin = ensure_admin(username, password)

    class InProcess:
        def __init__(self, client: TestClient):
            self.client = client

        def request(self, method: str, path: str, **kwargs: Any) -> Any:
            response = self.client.request(method, path, **kwargs)
            if response.status_code >= 400:
                raise AirflowError(response.status_code, response.text[:500], method, path)
            return response

    with TestClient(create_app(), base_url="http://airflow.init") as client:
        resp = client.post("/auth/token", json={"username": username, "password": password})
        resp.raise_for_status()
        client.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        with session_scope(database_url) as session:
            return {"admin": admin, **sync_all(InProcess(client), session)}


def main() -> None:
    """``python -m include.auth.airflow_roles``: the init step's sync, run by the launcher in a child set up like Airflow's components."""
    import json
    import os

    summary = sync_in_process(os.environ["AUTOPR_ADMIN_USERNAME"], os.environ["AUTOPR_ADMIN_PASSWORD"],
                              os.environ["AUTOPR_DATABASE_URL"])
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
