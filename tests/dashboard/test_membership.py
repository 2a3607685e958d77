"""Joins that arrive together share one membership query, and membership is still never cached."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, select

from dashboard_server.membership import MembershipChecks
from tests.dashboard.conftest import add_member, unique

pytestmark = pytest.mark.timeout(60)


@pytest.fixture()
def app_db(pg_url, monkeypatch):
    from include.settings import get_settings

    monkeypatch.setenv("AUTOPR_DATABASE_URL", pg_url)
    get_settings.cache_clear()
    yield pg_url
    get_settings.cache_clear()


def _remove_member(pg_url: str, project: str, username: str) -> None:
    from include.db.models import Project, ProjectMember
    from include.db.session import session_scope

    with session_scope(pg_url) as session:
        project_id = session.scalar(select(Project.id).where(Project.slug == project))
        session.execute(delete(ProjectMember).where(ProjectMember.project_id == project_id,
                                                    ProjectMember.username == username))


def test_a_reconnect_storm_of_joins_is_answered_by_a_few_queries_each_right(app_db):
    alpha, beta = unique("mem-a"), unique("mem-b")
    users = [f"user{i}" for i in range(300)]
    for i, user in enumerate(users):
        if i % 3 != 2:  # every third user is in neither project
            add_member(app_db, alpha, user, "viewer" if i % 2 else "editor")
        if i % 5 == 0:
            add_member(app_db, beta, user, "viewer")

    async def storm():
        checks = MembershipChecks(max_batch=250)
        asks = [(u, p) for u in users for p in (alpha, beta)]
        answers = await asyncio.gather(*(checks.role_of(u, p) for u, p in asks))
        return checks.queries, dict(zip(asks, answers))

    queries, answers = asyncio.run(storm())
    for i, user in enumerate(users):
        assert answers[(user, alpha)] == (None if i % 3 == 2 else ("viewer" if i % 2 else "editor")), user
        assert answers[(user, beta)] == ("viewer" if i % 5 == 0 else None), user
    # 600 joins arriving together: answered 250 at a time, not one query each.
    assert queries == 3, queries


def test_a_removed_member_is_refused_on_the_next_join(app_db):
    project = unique("mem-rm")
    add_member(app_db, project, "carol", "editor")

    async def ask(checks):
        return await checks.role_of("carol", project)

    async def scenario():
        checks = MembershipChecks()
        before = await ask(checks)
        _remove_member(app_db, project, "carol")
        return before, await ask(checks)

    assert asyncio.run(scenario()) == ("editor", None)


def test_a_failed_lookup_fails_every_join_it_answered_and_the_next_ones_ask_again():
    calls: list[list] = []

    def lookup(pairs):
        calls.append(pairs)
        if len(calls) == 1:
            raise ConnectionError("database is down")
        return {pair: "viewer" for pair in pairs}

    async def scenario():
        checks = MembershipChecks(lookup=lookup)
        first = await asyncio.gather(*(checks.role_of(f"u{i}", "p") for i in range(5)), return_exceptions=True)
        later = await checks.role_of("u0", "p")
        return first, later

    first, later = asyncio.run(scenario())
    assert all(isinstance(answer, ConnectionError) for answer in first), first  # none left hanging
    assert later == "viewer" and len(calls) == 2
