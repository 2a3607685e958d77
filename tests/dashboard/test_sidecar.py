"""The sidecar over real Socket.IO: auth, membership, validation, CORS, limits, replay, feed."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import socketio

from include.auth.tokens import mint_token
from tests.dashboard.conftest import TEST_SECRET, Watcher, add_member, make_sidecar, task_event, unique

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def token_for(sidecar, username: str, ttl: int = 600, **kw) -> str:
    return mint_token(username, ttl_seconds=ttl, settings=sidecar.settings, **kw)


async def refused(sidecar, auth, headers=None) -> str:
    """Connect and expect a refusal; return the reason the server gave (connect_error payload)."""
    client = socketio.AsyncClient(reconnection=False)
    reasons = []
    client.on("connect_error", lambda data: reasons.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(sidecar.url, auth=auth, transports=["websocket"], headers=headers or {}, wait_timeout=5)
    await client.disconnect()
    return str(reasons)


def test_healthz_metrics_and_page(sidecar):
    assert httpx.get(sidecar.url + "/healthz").json()["status"] == "ok"
    text = httpx.get(sidecar.url + "/metrics").text
    assert "dashboard_connections" in text and "dashboard_delivery_latency_seconds_bucket" in text
    page = httpx.get(sidecar.url + "/")
    assert page.status_code == 200 and "socket.io.min.js" in page.text
    assert httpx.get(sidecar.url + "/vendor/socket.io.min.js").status_code == 200


async def test_connect_refusals_name_the_reason(sidecar):
    assert "missing token" in await refused(sidecar, None)
    assert "missing token" in await refused(sidecar, {"last_event_id": 3})
    wrong = mint_token(
        "alice", settings=sidecar.settings.model_copy(update={"jwt_secret": "not-the-secret-" + "x" * 64})
    )
    assert "bad token signature" in await refused(sidecar, {"token": wrong})
    expired = token_for(sidecar, "alice", ttl=-30)
    assert "token expired" in await refused(sidecar, {"token": expired})
    assert "last_event_id" in await refused(sidecar, {"token": token_for(sidecar, "alice"), "last_event_id": -1})
    assert "extra" in (await refused(sidecar, {"token": token_for(sidecar, "alice"), "evil": 1})).lower()


async def test_foreign_origin_refused_allowed_origin_accepted(sidecar):
    token = token_for(sidecar, "alice")
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            sidecar.url,
            auth={"token": token},
            transports=["websocket"],
            headers={"Origin": "http://evil.example.com"},
            wait_timeout=5,
        )
    await client.disconnect()
    ok = await Watcher(sidecar.url, token, headers={"Origin": sidecar.url}).connect()
    assert ok.client.connected
    await ok.close()
    # HTTP API: CORS headers only for allowed origins
    async with httpx.AsyncClient() as http:
        preflight = {"Access-Control-Request-Method": "GET"}
        good = await http.options(sidecar.url + "/api/feed", headers={"Origin": sidecar.url, **preflight})
        bad = await http.options(sidecar.url + "/api/feed", headers={"Origin": "http://evil.example.com", **preflight})
    assert good.headers.get("access-control-allow-origin") == sidecar.url
    assert "access-control-allow-origin" not in bad.headers


async def test_join_checks_membership_and_events_reach_only_members(sidecar, pg_url):
    mine, theirs = unique("mine"), unique("theirs")
    add_member(pg_url, mine, "alice")
    add_member(pg_url, theirs, "bob")
    alice = await Watcher(sidecar.url, token_for(sidecar, "alice")).connect()
    bob = await Watcher(sidecar.url, token_for(sidecar, "bob")).connect()
    try:
        denied = await alice.join(theirs)
        assert denied["ok"] is False and denied["field"] == "project" and "not a member" in denied["message"]
        assert (await alice.join(mine))["ok"] is True
        assert (await bob.join(theirs))["ok"] is True
        sidecar.put(task_event(theirs, 1))
        sidecar.put(task_event(mine, 2))
        await alice.wait_for(lambda: len(alice.events) >= 1)
        await bob.wait_for(lambda: len(bob.events) >= 1)
        await asyncio.sleep(0.3)
        assert [e["project"] for e in alice.events] == [mine]
        assert [e["project"] for e in bob.events] == [theirs]
        assert alice.received["error"][0]["field"] == "project"
        # membership is checked on every join: removing alice takes effect on her next join
        from sqlalchemy import delete

        from include.db.models import ProjectMember
        from include.db.session import session_scope

        with session_scope(pg_url) as session:
            session.execute(delete(ProjectMember).where(ProjectMember.username == "alice"))
        await alice.client.call("leave", {"project": mine})
        assert (await alice.join(mine))["ok"] is False
    finally:
        await alice.close()
        await bob.close()


async def test_malformed_payloads_get_error_and_connection_stays(sidecar, pg_url):
    project = unique("val")
    add_member(pg_url, project, "carol")
    carol = await Watcher(sidecar.url, token_for(sidecar, "carol")).connect()
    try:
        bad = await carol.client.call("join", {"project": project, "colour": "red"}, timeout=5)
        assert bad["ok"] is False and bad["field"] == "colour"
        bad = await carol.client.call("join", {"project": "NOT A SLUG!"}, timeout=5)
        assert bad["field"] == "project"
        bad = await carol.client.call("join", "just a string", timeout=5)
        assert bad["ok"] is False
        bad = await carol.client.call("join", {"project": project, "last_event_id": "ten"}, timeout=5)
        assert bad["field"] == "last_event_id"
        bad = await carol.client.call("dance", {"x": 1}, timeout=5)
        assert bad["field"] == "event" and "unknown event" in bad["message"]
        assert len(carol.received["error"]) == 5
        assert carol.client.connected
        assert (await carol.join(project))["ok"] is True
    finally:
        await carol.close()


async def test_event_flood_is_rate_limited(sidecar, pg_url):
    project = unique("flood")
    add_member(pg_url, project, "dave")
    dave = await Watcher(sidecar.url, token_for(sidecar, "dave")).connect()
    try:
        acks = await asyncio.gather(*[dave.client.call("leave", {"project": project}, timeout=10) for _ in range(60)])
        limited = [a for a in acks if not a.get("ok") and "rate limited" in a.get("message", "")]
        assert 30 <= len(limited) <= 50, acks  # burst 20 (+ refill) passes, the rest is refused
        assert dave.client.connected
        await asyncio.sleep(1.0)  # tokens refill: the connection is usable again
        assert (await dave.client.call("leave", {"project": project}, timeout=5))["ok"] is True
    finally:
        await dave.close()


async def test_connect_flood_from_one_address_is_rate_limited(pg_url):
    side = make_sidecar(pg_url, AUTOPR_DASHBOARD_CONNECT_BURST="5", AUTOPR_DASHBOARD_CONNECT_RATE="0.5").start()
    try:
        token = token_for(side, "erin")
        outcomes = []
        for _ in range(8):
            client = socketio.AsyncClient(reconnection=False)
            reasons = []
            client.on("connect_error", lambda data, reasons=reasons: reasons.append(data))
            try:
                await client.connect(side.url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
                outcomes.append("ok")
            except socketio.exceptions.ConnectionError:
                outcomes.append(str(reasons))
            await client.disconnect()
        assert outcomes[:5] == ["ok"] * 5
        assert all("rate limited" in o for o in outcomes[5:]), outcomes
    finally:
        side.stop()


async def test_token_expiry_disconnects(sidecar, pg_url):
    token = token_for(sidecar, "frank", ttl=2)
    frank = await Watcher(sidecar.url, token).connect()
    disconnected = asyncio.Event()
    frank.client.on("disconnect", lambda *a: disconnected.set())
    await asyncio.wait_for(disconnected.wait(), 10)
    assert any(e.get("message") == "token expired" for e in frank.received["error"])


async def test_replay_after_reconnect_nothing_missed_nothing_twice(sidecar, pg_url):
    project = unique("replay")
    add_member(pg_url, project, "gina")
    gina = await Watcher(sidecar.url, token_for(sidecar, "gina"), last_event_id=0).connect()
    await gina.join(project)
    for n in range(5):
        sidecar.put(task_event(project, n))
    await gina.wait_for(lambda: len(gina.events) == 5)
    await gina.close()
    # while away: more events
    for n in range(5, 12):
        sidecar.put(task_event(project, n))
    await asyncio.sleep(0.5)
    back = Watcher(sidecar.url, gina.token, last_event_id=gina.last_event_id)
    await back.connect()
    # publish while the replay runs: these must come after the replayed ones, once
    ack_task = asyncio.create_task(back.join(project))
    for n in range(12, 20):
        sidecar.put(task_event(project, n))
    ack = await ack_task
    assert ack["ok"] and ack["replayed"] >= 7  # plus any of the concurrent ones already stored
    await back.wait_for(lambda: len(back.events) >= 15)
    await asyncio.sleep(0.5)
    all_ids = gina.ids + back.ids
    assert len(all_ids) == len(set(all_ids)) == 20
    assert back.ids == sorted(back.ids)
    assert [e["task_id"] for e in gina.events + back.events] == [f"task_{n}" for n in range(20)]
    await back.close()


async def test_failed_task_notifies_and_presence_lists_watchers(sidecar, pg_url):
    project = unique("notify")
    add_member(pg_url, project, "hana")
    add_member(pg_url, project, "ivan")
    hana = await Watcher(sidecar.url, token_for(sidecar, "hana")).connect()
    ivan = await Watcher(sidecar.url, token_for(sidecar, "ivan")).connect()
    try:
        await hana.join(project)
        ack = await ivan.join(project)
        assert ack["watchers"] == ["hana", "ivan"]
        await hana.wait_for(lambda: any(p["watchers"] == ["hana", "ivan"] for p in hana.received["presence"]))
        sidecar.put(task_event(project, 1, state="failed", task_id="lint"))
        await hana.wait_for(lambda: hana.received["notification"])
        note = hana.received["notification"][0]
        assert note["level"] == "warning" and "lint" in note["message"] and note["event_id"] == hana.events[0]["id"]
        await ivan.close()
        await hana.wait_for(lambda: hana.received["presence"][-1]["watchers"] == ["hana"])
    finally:
        await hana.close()


def test_feed_pages_with_bearer_token_and_membership(sidecar, pg_url):
    project = unique("feed")
    add_member(pg_url, project, "jo")
    for n in range(7):
        sidecar.put(task_event(project, n))
    headers = {"Authorization": f"Bearer {token_for(sidecar, 'jo')}"}
    deadline = time.monotonic() + 10
    while True:
        first = httpx.get(sidecar.url + "/api/feed", params={"project": project, "limit": 4}, headers=headers).json()
        if len(first["items"]) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    second = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        first = httpx.get(sidecar.url + "/api/feed", params={"project": project, "limit": 4}, headers=headers).json()
        second = httpx.get(
            sidecar.url + "/api/feed",
            headers=headers,
            params={"project": project, "limit": 4, "before_id": first["next_before_id"]},
        ).json()
        if len(first["items"]) + len(second["items"]) == 7:
            break
        time.sleep(0.1)
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 7
    assert second["next_before_id"] is None
    assert httpx.get(sidecar.url + "/api/feed", params={"project": project}).status_code == 401
    other = {"Authorization": f"Bearer {token_for(sidecar, 'mallory')}"}
    assert httpx.get(sidecar.url + "/api/feed", params={"project": project}, headers=other).status_code == 403
    bad = httpx.get(sidecar.url + "/api/feed", params={"project": project, "limit": "lots"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "limit"
    projects = httpx.get(sidecar.url + "/api/projects", headers=headers).json()
    assert {"slug": project, "role": "viewer"} in projects["projects"]


def test_login_reports_unreachable_airflow(sidecar):
    reply = httpx.post(sidecar.url + "/api/login", json={"username": "a", "password": "b"}, timeout=20)
    assert reply.status_code == 502 and "unreachable" in reply.json()["detail"]
    reply = httpx.post(sidecar.url + "/api/login", json={"username": "a"})
    assert reply.status_code == 422 and reply.json()["field"] == "password"


assert TEST_SECRET


async def test_polling_transport_gets_the_same_events(sidecar, pg_url):
    """Clients that cannot open a websocket fall back to long-polling and still get every event, in order."""
    project = unique("poll")
    add_member(pg_url, project, "pola")
    client = socketio.AsyncClient(reconnection=False)
    got = []
    client.on("event", lambda data: got.append(data["id"]))
    await client.connect(sidecar.url, auth={"token": token_for(sidecar, "pola")}, transports=["polling"])
    try:
        assert (await client.call("join", {"project": project}, timeout=10))["ok"]
        for n in range(3):
            sidecar.put(task_event(project, n))
        for _ in range(200):
            if len(got) == 3:
                break
            await asyncio.sleep(0.05)
        assert len(got) == 3 and got == sorted(got)
    finally:
        await client.disconnect()
