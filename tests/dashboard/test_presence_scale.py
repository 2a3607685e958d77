"""Presence that scales: join acks and presence messages stay bounded however large the room.

The sidecar here runs with a small ``dashboard_presence_list_max`` so that a
few hundred real Socket.IO clients make a "large" room; what is measured is
the size of what each client receives (bytes of the JSON payload) and the
counts, never time.  The page's watcher text is checked in the system
Chromium against the same room, built from the ack and the deltas.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from include.auth.tokens import mint_token
from tests.dashboard.conftest import Watcher, make_sidecar, unique
from tests.dashboard.test_page import browser, open_logged_in  # noqa: F401 - browser: the page tests' Chromium

# The page test comes last: the sync Playwright fixture holds an event loop in this thread until the module ends.
pytestmark = pytest.mark.timeout(240)

LIST_MAX = 20
INTERVAL = 0.2
N = 300


@pytest.fixture(scope="module")
def big_sidecar(pg_url):
    """A sidecar that lets one address open hundreds of sockets at once, with a small full-list limit."""
    side = make_sidecar(
        pg_url,
        AUTOPR_DASHBOARD_CONNECT_BURST="5000",
        AUTOPR_DASHBOARD_CONNECT_RATE="1000",
        AUTOPR_DASHBOARD_PRESENCE_LIST_MAX=str(LIST_MAX),
        AUTOPR_DASHBOARD_PRESENCE_INTERVAL=str(INTERVAL),
    ).start()
    yield side
    side.stop()


def add_members(pg_url: str, project: str, usernames: list[str]) -> None:
    from include.db.models import Project, ProjectMember
    from include.db.session import session_scope
    from include.enums import Role

    with session_scope(pg_url) as session:
        proj = Project(slug=project, name=project)
        session.add(proj)
        session.flush()
        session.add_all(ProjectMember(project_id=proj.id, username=u, role=Role.viewer) for u in usernames)


def size(payload: dict) -> int:
    return len(json.dumps(payload, separators=(",", ":")))


# A name is at most this long here ("w-000-xxxxxxxx"); a payload naming at most k of them, plus its fixed
# fields, stays under this many bytes: the bound does not grow with the room.
def bound(names: int) -> int:
    return 200 + names * 20


class View:
    """The page's presence state, rebuilt by the rule app.js applies (presenceFromAck / applyPresence)."""

    def __init__(self, ack: dict):
        self.seq, self.count = ack["seq"], ack["count"]
        self.names = set(ack.get("watchers") or ack.get("sample") or [])

    def apply(self, p: dict) -> None:
        if p["seq"] <= self.seq:
            return
        self.seq, self.count = p["seq"], p["count"]
        if "watchers" in p:
            self.names = set(p["watchers"])
            return
        if p.get("more_left"):
            self.names = set()
        self.names -= set(p["left"])
        self.names |= set(p["joined"])


async def connect_all(url: str, tokens: list[str]) -> list[Watcher]:
    out: list[Watcher] = []
    for i in range(0, len(tokens), 50):
        out += await asyncio.gather(*(Watcher(url, t).connect() for t in tokens[i : i + 50]))
    return out


async def settle(watcher: Watcher, predicate, timeout: float = 60.0) -> dict:
    """The newest presence message once ``predicate`` holds for it."""
    deadline = time.monotonic() + timeout
    while True:
        msgs = watcher.received["presence"]
        if msgs and predicate(msgs[-1]):
            return msgs[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"presence never settled; last: {msgs[-1:]}")
        await asyncio.sleep(0.05)


@pytest.mark.anyio
async def test_join_acks_and_presence_stay_bounded_and_counts_stay_right(big_sidecar, pg_url):
    project = unique("crowd")
    names = [f"w-{i:03d}-{project[-8:]}" for i in range(N)]
    add_members(pg_url, project, [*names, "late"])
    settings = big_sidecar.settings
    started = time.monotonic()
    watchers = await connect_all(big_sidecar.url, [mint_token(u, ttl_seconds=900, settings=settings) for u in names])
    late = None
    try:
        acks = []
        for i in range(0, N, 50):
            acks += await asyncio.gather(*(w.join(project) for w in watchers[i : i + 50]))
        assert all(a["ok"] for a in acks)
        # every ack is bounded: the whole list only while the room is small, a sample of LIST_MAX after
        for ack in acks:
            assert size(ack) <= bound(LIST_MAX), ack
            assert 1 <= ack["count"] <= N
            assert len(ack.get("watchers") or ack.get("sample")) <= LIST_MAX
        fullest = max(acks, key=lambda a: a["count"])  # the ack of the join the sidecar handled last
        assert fullest["count"] == N and "watchers" not in fullest and len(fullest["sample"]) == LIST_MAX

        # everyone converges on the count, from deltas alone
        for w in watchers[:: N // 10]:
            await settle(w, lambda p: p["count"] == N)
        elapsed = time.monotonic() - started
        for w, ack in zip(watchers, acks, strict=True):
            msgs = w.received["presence"]
            # coalesced: at most one message per interval, however many joined meanwhile (not one per join)
            assert len(msgs) <= elapsed / INTERVAL + 2, len(msgs)
            for p in msgs:
                assert size(p) <= bound(3 * LIST_MAX), p
                assert len(p["joined"]) <= LIST_MAX and len(p["left"]) <= LIST_MAX
            assert [p["seq"] for p in msgs] == sorted({p["seq"] for p in msgs})
            view = View(ack)
            for p in msgs:
                view.apply(p)
            if msgs:
                assert view.count == N
            assert view.names <= set(names)
        total = sum(size(p) for w in watchers for p in w.received["presence"])
        # the old protocol sent the whole list to the whole room per broadcast: N * N names at the least
        assert total < N * N * 10, total

        # a late joiner: ack bounded and exact count
        late = await Watcher(big_sidecar.url, mint_token("late", ttl_seconds=900, settings=settings)).connect()
        ack = await late.join(project)
        assert ack["count"] == N + 1 and len(ack["sample"]) == LIST_MAX and size(ack) <= bound(LIST_MAX)

        # leaves and disconnects: 100 leave, 100 disconnect -> N + 1 - 200 watchers
        for w in watchers[:100]:
            assert (await w.client.call("leave", {"project": project}, timeout=20))["ok"]
        await asyncio.gather(*(w.close() for w in watchers[100:200]))
        p = await settle(late, lambda p: p["count"] == N + 1 - 200)
        assert size(p) <= bound(3 * LIST_MAX)

        # down to LIST_MAX watchers: the message carries the whole list again, exactly who is left
        await asyncio.gather(*(w.close() for w in watchers[200 : 200 + (N + 1 - 200 - LIST_MAX)]))
        remaining = sorted([*names[200 + (N + 1 - 200 - LIST_MAX) :], "late"])
        assert len(remaining) == LIST_MAX
        p = await settle(late, lambda p: p["count"] == LIST_MAX)
        assert p["watchers"] == remaining
        view = View(ack)
        for m in late.received["presence"]:
            view.apply(m)
        assert view.count == LIST_MAX and sorted(view.names) == remaining
    finally:
        for w in [*watchers, late]:
            if w is not None and w.client is not None and w.client.connected:
                await w.close()


@pytest.mark.anyio
async def test_two_tabs_of_one_user_count_once_and_small_rooms_list_everyone(big_sidecar, pg_url):
    project = unique("tabs")
    add_members(pg_url, project, ["rae", "sol"])
    settings = big_sidecar.settings
    rae1, rae2, sol = await connect_all(
        big_sidecar.url, [mint_token(u, ttl_seconds=900, settings=settings) for u in ("rae", "rae", "sol")]
    )
    try:
        assert (await rae1.join(project))["watchers"] == ["rae"]
        assert (await rae2.join(project))["count"] == 1
        ack = await sol.join(project)
        assert ack["count"] == 2 and ack["watchers"] == ["rae", "sol"]
        await settle(rae1, lambda p: p["watchers"] == ["rae", "sol"])
        await rae2.close()  # rae still has a tab open: nobody left
        await sol.client.call("leave", {"project": project}, timeout=20)
        p = await settle(rae1, lambda p: p["count"] == 1)
        assert p["watchers"] == ["rae"] and p["left"] == ["sol"] and p["joined"] == []
    finally:
        for w in (rae1, rae2, sol):
            if w.client.connected:
                await w.close()


@pytest.mark.anyio
async def test_a_disconnect_leaves_only_its_own_rooms():
    """python-socketio's manager scans every room per disconnect (each sid has one); ours leaves the sid's own."""
    import socketio

    from dashboard_server.sockets import index_rooms_by_sid

    sio = socketio.AsyncServer(async_mode="asgi")
    manager = sio.manager
    manager.set_server(sio)
    manager.initialize()
    index_rooms_by_sid(manager)
    sids = [await manager.pre_connect(f"eio{i}", "/") for i in range(500)]
    for sid in sids:
        await manager.connect(sid, "/")
        await manager.enter_room(sid, "/", "project:a")
    await manager.enter_room(sids[0], "/", "project:b")

    class NoScan(dict):
        def copy(self):
            raise AssertionError("a disconnect scanned every room")

        def items(self):
            raise AssertionError("a disconnect scanned every room")

    manager.rooms["/"] = NoScan(manager.rooms["/"])
    await manager.disconnect(sids[0], "/")
    rooms = dict.items(manager.rooms["/"])
    assert all(sids[0] not in members for _, members in rooms)
    assert "project:b" not in manager.rooms["/"] and len(manager.rooms["/"]["project:a"]) == 499
    assert (("/", sids[0]) not in manager.rooms_of) and len(manager.rooms_of) == 499
    for sid in sids[1:]:
        await manager.disconnect(sid, "/")
    assert manager.rooms == {} and manager.rooms_of == {}


@pytest.mark.browser
def test_page_shows_watchers_from_deltas(browser, big_sidecar, pg_url):  # noqa: F811 - the fixture
    """The page keeps 'Watching: …' right from the ack and deltas, in a room too large to list and after."""
    from playwright.sync_api import expect

    project = unique("pagecrowd")
    n = LIST_MAX + 10
    names = [f"v-{i:03d}" for i in range(n)]
    add_members(pg_url, project, ["pia", *names])
    settings = big_sidecar.settings
    page = open_logged_in(browser, big_sidecar, "pia", project)
    # Playwright's sync API owns this thread's event loop: the watchers' loop runs in a thread of its own.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro, timeout: float = 120.0):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    async def each(coros) -> list:
        return await asyncio.gather(*coros)

    watchers: list[Watcher] = []
    try:
        text = page.get_by_test_id("watchers")
        expect(text).to_have_text("Watching: pia", timeout=20_000)
        tokens = [mint_token(u, ttl_seconds=900, settings=settings) for u in names]
        watchers = run(connect_all(big_sidecar.url, tokens))
        run(each([w.join(project) for w in watchers]))
        # n + 1 watchers, more than LIST_MAX: the count and the first names, from the deltas
        first = ", ".join(["pia", *names[:9]])
        expect(text).to_have_text(f"Watching: {n + 1} ({first}, …)", timeout=20_000)
        # all but three leave: the whole list again
        run(each([w.close() for w in watchers[3:]]))
        expect(text).to_have_text("Watching: " + ", ".join(["pia", *names[:3]]), timeout=20_000)
    finally:
        run(each([w.close() for w in watchers if w.client.connected]))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        page.close()
