"""Done-when "no loss": restart the sidecar, then Redis, in the middle of 10,000 events.

Real parts only: our own redis-server (append-only file, so a restart keeps the
stream; never the shared 6379), the sidecar as ``python -m dashboard_server``
with Redis transport and the Redis Socket.IO manager, PostgreSQL, and
auto-reconnecting ``socketio.AsyncClient``s that resume from their last id.
Events go in through the listener's hand-off (``outbox.put``), which spools
locally while Redis is down.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import redis

from include.auth.tokens import mint_token
from tests.dashboard.conftest import Watcher, add_member, make_sidecar, task_event, unique
from tests.support.ports import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration, pytest.mark.timeout(600)]

TOTAL = 10_000
CLIENTS = 3


class OwnRedis:
    """A private redis-server with appendfsync always, restartable on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="autopr-redis-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: redis fsyncs the AOF and exits
            self.proc.wait(10)
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_redis():
    server = OwnRedis()
    server.start()
    yield server
    server.cleanup()


def diagnose(side, own_redis, project, watchers) -> str:
    """Where the missing events are: never stored, stored but not delivered, or stuck in Redis."""
    import httpx
    from sqlalchemy import func, select, text

    from include.db.models import ExecutionEvent
    from include.db.session import session_scope

    with session_scope(side.env["AUTOPR_DATABASE_URL"]) as session:
        stored = session.scalar(select(func.count()).where(ExecutionEvent.project == project))
        activity = session.execute(text(
            "select a.client_port, a.state, a.wait_event_type, a.wait_event, left(a.query, 60), "
            "(select string_agg(l.locktype || ':' || l.mode || ':' || l.granted, ',') from pg_locks l "
            " where l.pid = a.pid and l.locktype = 'advisory') "
            "from pg_stat_activity a where a.datname = current_database() and a.pid <> pg_backend_pid()"
        )).all()  # fmt: skip
    r = redis.Redis.from_url(own_redis.url)
    stream = side.env["AUTOPR_EVENTS_STREAM"]
    try:
        groups = r.xinfo_groups(stream)
        xlen = r.xlen(stream)
    except redis.RedisError as exc:
        groups, xlen = str(exc), None
    health = httpx.get(side.url + "/healthz", timeout=5).json()
    got = [(len(set(w.ids)), w.last_event_id, w.client.connected) for w in watchers]
    import os

    import psutil

    owners = {}
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.raddr and conn.raddr.port == 5432 and conn.pid:
            owners[conn.laddr.port] = (
                conn.pid,
                conn.pid == os.getpid(),
                conn.pid == (side.proc.pid if side.proc else None),
            )
    activity = [(row, owners.get(row[0])) for row in activity]
    import signal

    if side.proc is not None:
        side.proc.send_signal(signal.SIGUSR1)
        time.sleep(1)
    return (
        f"stacks: {side.log_path.read_text()[-12000:]}\n"
        f"clients have {got} of {TOTAL}; stored={stored}; xlen={xlen}; groups={groups}; health={health}; "
        f"pg={activity}"
    )


async def test_no_loss_across_sidecar_and_redis_restarts(pg_url, own_redis):
    side = make_sidecar(pg_url, redis_url=own_redis.url).start()
    project = unique("noloss")
    watchers = []
    try:
        for i in range(CLIENTS):
            add_member(pg_url, project, f"viewer{i}")
        for i in range(CLIENTS):
            w = Watcher(side.url, mint_token(f"viewer{i}", ttl_seconds=900, settings=side.settings), last_event_id=0)
            await w.connect(reconnection=True)
            assert (await w.join(project))["ok"]
            watchers.append(w)

        settings = side.settings
        published = threading.Event()
        progress = {"n": 0}

        def publish() -> None:
            from include.events.outbox import get_outbox

            outbox = get_outbox(settings)
            for n in range(TOTAL):
                outbox.put(task_event(project, n, task_id=f"t{n:05d}"))
                progress["n"] = n + 1
                if n % 50 == 49:
                    time.sleep(0.02)  # ~2,000 events/s: a stream, not one burst
            deadline = time.monotonic() + 60
            while outbox.flush() and time.monotonic() < deadline:  # hand over what was spooled
                time.sleep(0.1)
            published.set()

        publisher = threading.Thread(target=publish, daemon=True)
        publisher.start()

        async def reached(n: int) -> None:
            while progress["n"] < n:
                await asyncio.sleep(0.01)

        await reached(TOTAL // 4)
        side.stop()  # sidecar down: relay stops, clients lose their sockets
        await reached(TOTAL // 3)
        side.start()
        await reached(TOTAL // 2)
        own_redis.stop()  # Redis down: listener spools, relay and pub/sub retry
        await asyncio.sleep(1.0)
        own_redis.start()

        while not published.is_set():
            await asyncio.sleep(0.1)
        try:
            for w in watchers:
                await w.wait_for(lambda w=w: len(set(w.ids)) >= TOTAL, timeout=300)
        except AssertionError:
            raise AssertionError(diagnose(side, own_redis, project, watchers)) from None
        await asyncio.sleep(1.0)  # anything still in flight would show up as a duplicate
        for w in watchers:
            assert len(w.ids) == len(set(w.ids)) == TOTAL, (len(w.ids), len(set(w.ids)))
            assert sorted(e["task_id"] for e in w.events) == [f"t{n:05d}" for n in range(TOTAL)]
            assert w.ids == sorted(w.ids)  # in id order, across the restarts
    finally:
        for w in watchers:
            await w.close()
        side.stop()
