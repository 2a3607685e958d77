"""A real sidecar: states by what happened (not by id), and outages said out loud.

* a ``running`` persisted after the same try's ``success`` (what a relay's re-claim
  does: the late copy gets the higher id) leaves the task ``success``;
* with the app database refusing connections, a join is answered with an error the
  page shows, the HTTP API answers JSON with a reason, /healthz and the launcher's
  health check say degraded -- and all of it recovers when the database returns;
* a ``last_event_id`` above the newest stored id gets a full resync, then live events.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from include.auth.tokens import mint_token
from include.events import ordering
from tests.conftest import PG_ADMIN_URL, _admin_exec
from tests.dashboard.conftest import Watcher, add_member, make_sidecar, task_event, unique

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]


def token_for(sidecar, username: str) -> str:
    return mint_token(username, ttl_seconds=600, settings=sidecar.settings)


async def test_a_late_running_after_success_leaves_the_task_success(sidecar, pg_url):
    project = unique("order")
    add_member(pg_url, project, "olga")
    watcher = await Watcher(sidecar.url, token_for(sidecar, "olga")).connect()
    run_id = f"manual__{project}"
    try:
        await watcher.join(project)
        started = datetime.now(UTC) - timedelta(seconds=5)
        sidecar.put(task_event(project, 1, state="success", task_id="lint", occurred_at=started + timedelta(seconds=2)))
        await watcher.wait_for(lambda: len(watcher.events) == 1)
        # A relay read "running" and died before persisting it; another relay re-claims it after the
        # claim timeout and persists it then: it arrives after "success", with a higher id.  So does a
        # "queued" from a slow reconciler poll.
        sidecar.put(task_event(project, 1, state="running", task_id="lint", occurred_at=started + timedelta(seconds=1)))
        sidecar.put(task_event(project, 1, state="queued", task_id="lint", occurred_at=started))
        await watcher.wait_for(lambda: len(watcher.events) == 3)
        assert [e["state"] for e in watcher.events] == ["success", "running", "queued"]
        assert watcher.ids == sorted(watcher.ids)  # by id the last word would be "queued"

        shown = ordering.current_states(watcher.events)
        assert shown[("task_instance", "demo_dag", run_id, "lint", -1)]["state"] == "success"

        headers = {"Authorization": f"Bearer {token_for(sidecar, 'olga')}"}
        params = {"project": project, "dag_id": "demo_dag", "run_id": run_id}
        async with httpx.AsyncClient(base_url=sidecar.url, headers=headers) as http:
            state = (await http.get("/api/run-state", params=params)).json()
            assert [(t["task_id"], t["state"]) for t in state["tasks"]] == [("lint", "success")]
            # A retry is a new try: it wins over the first try's success.
            sidecar.put(task_event(project, 1, state="running", task_id="lint", try_number=2,
                                   occurred_at=started + timedelta(seconds=3)))
            await watcher.wait_for(lambda: len(watcher.events) == 4)
            state = (await http.get("/api/run-state", params=params)).json()
            assert [(t["state"], t["try_number"]) for t in state["tasks"]] == [("running", 2)]
            rule = (await http.get("/api/ordering")).json()
            assert rule["terminal"] == sorted(ordering.TERMINAL_STATES) and rule["lifecycle"][0] == "none"
            assert (await http.get("/api/run-state", params={**params, "project": "not-mine"})).status_code == 403
    finally:
        await watcher.close()


def test_http_errors_are_json_with_a_reason(sidecar):
    missing = httpx.get(sidecar.url + "/no/such/page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/json")
    assert missing.json()["reason"] == "http"


async def test_last_event_id_above_the_newest_is_a_full_resync_then_live(sidecar, pg_url):
    project = unique("resync")
    add_member(pg_url, project, "rita")
    for n in range(3):
        sidecar.put(task_event(project, n))
    token = token_for(sidecar, "rita")
    probe = await Watcher(sidecar.url, token, last_event_id=0).connect()
    await probe.join(project)
    await probe.wait_for(lambda: len(probe.events) == 3)
    await probe.close()

    # A tab left open across a database restore: it holds ids this database never handed out.
    stale = await Watcher(sidecar.url, token, last_event_id=10**12).connect()
    try:
        ack = await stale.join(project)
        assert ack["ok"] and "full resync" in ack["resync"] and ack["replayed"] == 3, ack
        await stale.wait_for(lambda: len(stale.events) == 3)
        sidecar.put(task_event(project, 9))
        await stale.wait_for(lambda: len(stale.events) == 4)
        assert [e["task_id"] for e in stale.events] == ["task_0", "task_1", "task_2", "task_9"]
    finally:
        await stale.close()


@pytest.fixture()
def breakable_db():
    """A migrated app database of its own that the test can close to new connections and open again."""
    from include.db.migrate import upgrade

    name = f"autopr_outage_{uuid.uuid4().hex[:8]}"
    _admin_exec(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)

    def close() -> None:
        _admin_exec(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        _admin_exec(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")

    def reopen() -> None:
        _admin_exec(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    yield url, close, reopen
    from include.db.session import reset_engine

    reset_engine()
    _admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _wait_health(url: str, status: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            body = (await http.get(url + "/healthz")).json()
            if body["status"] == status or time.monotonic() > deadline:
                return body
            await asyncio.sleep(0.2)


async def test_database_outage_is_said_out_loud_and_recovers(breakable_db):
    from include.launcher import health
    from include.launcher.roles import ROLES

    url, close, reopen = breakable_db
    project = unique("outage")
    add_member(url, project, "omar")
    side = make_sidecar(url).start()
    try:
        token = token_for(side, "omar")
        headers = {"Authorization": f"Bearer {token}"}
        dashboard = ROLES["dashboard"]
        assert dashboard.is_healthy(side.settings, 0.0)
        watcher = await Watcher(side.url, token).connect()
        close()
        try:
            ack = await watcher.join(project)
            assert ack["ok"] is False and ack["reason"] == "database" and ack["retry"] is True, ack
            assert ack["message"] == "history unavailable, retrying"
            assert watcher.received["error"][-1]["message"] == "history unavailable, retrying"
            async with httpx.AsyncClient(base_url=side.url, headers=headers, timeout=10) as http:
                for path, params in (("/api/feed", {"project": project}), ("/api/projects", {})):
                    reply = await http.get(path, params=params)
                    assert reply.status_code == 503, reply.text
                    assert reply.json() == {"detail": "history unavailable, retrying", "field": None,
                                            "reason": "database"}
                body = await _wait_health(side.url, "degraded")
                assert body["status"] == "degraded" and "database" in body["failing"]
                assert "reasons" not in body  # anonymous: no error text (it names the database host)
                authed = (await http.get("/healthz")).json()
            assert authed["reasons"]["database"]  # the driver's message, for whoever holds a token
            # The supervisor's check sees it: running but unhealthy (reported, not restarted).
            assert not health.dashboard_healthy(side.url + "/healthz")
            assert not dashboard.is_healthy(side.settings, 0.0)
        finally:
            reopen()
        assert (await _wait_health(side.url, "ok"))["status"] == "ok"
        assert dashboard.is_healthy(side.settings, 0.0)
        ack = await watcher.join(project)
        assert ack["ok"], ack
        side.put(task_event(project, 1))
        await watcher.wait_for(lambda: len(watcher.events) == 1)
        await watcher.close()
    finally:
        side.stop()

