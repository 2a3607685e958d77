"""Several sidecars on one Redis: nothing lost, nothing doubled, in id order, one reconciler.

Three ``python -m dashboard_server`` processes share one Redis stream (their
relays are one consumer group), one Socket.IO Redis channel and the test
session's PostgreSQL database, as instances behind a load balancer would.
Events go in through the listener's hand-off (``outbox.put``) at 50 a
second, in bursts as task processes finishing together produce them; the
relays take turns persisting them, so every instance receives most events
over pub/sub -- and a burst's events, forwarded one Redis round trip each
after the writer lock is released, often after a later one of its own.  Midway one sidecar
(the reconciler's lease holder) is killed with SIGKILL: its relay may die
holding stream entries or with a batch persisted but never forwarded, its
clients lose their socket.  Those clients reconnect to a survivor with their
last id, as a browser behind the load balancer would.

"In order" means: the list of ids each client received -- live, replayed,
live again -- is exactly the project's ids in the database, ascending, each
once.  A client's highest id is then a safe point to resume from.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid

import httpx
import pytest
import redis
import socketio
from sqlalchemy import select

from include.auth.tokens import mint_token
from tests.dashboard.conftest import Watcher, add_member, make_sidecar, task_event, unique
from tests.support.waiting import eventually

pytestmark = [pytest.mark.anyio, pytest.mark.integration, pytest.mark.timeout(240)]

SIDECARS = 3
TOTAL = 1000
RATE = 50.0  # events/s on average
BURST = 10  # events put back to back, every BURST / RATE seconds
KILL_AT = 400  # events published when one sidecar is killed
CLAIM_IDLE_MS = 1500  # a dead relay's stream entries are re-claimed after this long
RECONCILE_INTERVAL = 1.0


def health(side) -> dict:
    return httpx.get(side.url + "/healthz", timeout=5).json()


def stored_ids(pg_url: str, project: str) -> list[int]:
    from include.db.models import ExecutionEvent
    from include.db.session import session_scope

    with session_scope(pg_url) as session:
        return list(
            session.scalars(
                select(ExecutionEvent.id).where(ExecutionEvent.project == project).order_by(ExecutionEvent.id)
            )
        )



def leaders(sides) -> list:
    return [s for s in sides if s.proc is not None and (health(s).get("reconciler") or {}).get("leader")]


async def test_three_sidecars_one_killed_every_client_gets_every_id_once_in_order(pg_url, redis_url):
    stream = f"autopr-test:scale:{uuid.uuid4().hex[:10]}"
    common = {
        "AUTOPR_EVENTS_STREAM": stream,
        "AUTOPR_EVENTS_CLAIM_IDLE_MS": str(CLAIM_IDLE_MS),
        "AUTOPR_EVENTS_RECONCILE_INTERVAL": str(RECONCILE_INTERVAL),
        "AUTOPR_AIRFLOW_API_URL": "http://127.0.0.1:9",  # nothing listens: the leader's polls just fail
    }
    sides = [make_sidecar(pg_url, redis_url=redis_url, **common) for _ in range(SIDECARS)]
    projects = [unique("scale-a"), unique("scale-b")]  # two rooms: each sees the other's ids as gaps
    watchers: list[tuple[Watcher, str, int]] = []  # (client, project, index of the sidecar it is on)
    r = redis.Redis.from_url(redis_url)
    try:
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in sides))
        n = 0
        for k, side in enumerate(sides):
            for project in (projects[0], projects[0], projects[1]):
                add_member(pg_url, project, f"scale{n}")
                w = Watcher(side.url, mint_token(f"scale{n}", ttl_seconds=900, settings=side.settings), last_event_id=0)
                await w.connect()
                assert (await w.join(project))["ok"]
                watchers.append((w, project, k))
                n += 1

        # One reconciler among the three instances.
        first = await eventually(lambda: leaders(sides), 10, "a reconciler lease holder")
        assert len(first) == 1, [health(s)["reconciler"] for s in sides]
        victim = first[0]
        victim_index = sides.index(victim)
        victim_pid = victim.proc.pid

        progress = {"n": 0}
        published = threading.Event()
        settings = sides[0].settings

        def publish() -> None:
            from include.events.outbox import get_outbox

            outbox = get_outbox(settings)
            start = time.perf_counter()
            for i in range(TOTAL):
                delay = start + (i - i % BURST) / RATE - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                outbox.put(task_event(projects[i % 2], i, task_id=f"t{i:04d}", run_id=f"run-{stream}"))
                progress["n"] = i + 1
            published.set()

        publisher = threading.Thread(target=publish, daemon=True)
        publisher.start()
        await eventually(lambda: progress["n"] >= KILL_AT, 60, "the publisher to reach the kill point")
        victim.proc.kill()  # SIGKILL: no shutdown, no lease release, no ack of what its relay holds
        victim.proc.wait(10)
        victim.proc = None
        survivors = [s for s in sides if s is not victim]

        # Its clients reconnect through the "load balancer": to a survivor, resuming from their last id.
        for j, (w, project, k) in enumerate(watchers):
            if k == victim_index:
                await w.close()
                w.url = survivors[j % len(survivors)].url
                await w.connect()  # auth carries last_event_id; the connect handler re-joins its project

        await eventually(published.is_set, 60, "the publisher to finish")
        expected = {
            p: await eventually(lambda p=p: (ids := stored_ids(pg_url, p)) and len(ids) == TOTAL // 2 and ids,
                                30, f"all events of {p} stored")
            for p in projects
        }  # fmt: skip
        for w, project, _ in watchers:
            await w.wait_for(lambda w=w, p=project: set(w.ids) >= set(expected[p]), timeout=30)
        await asyncio.sleep(1.5)  # anything still in flight would show up as a duplicate
        for w, project, k in watchers:
            where = "moved from the killed sidecar" if k == victim_index else "on a survivor"
            assert w.ids == expected[project], (
                f"client {where}: {len(w.ids)} ids, {len(set(w.ids))} distinct, "
                f"missing {sorted(set(expected[project]) - set(w.ids))[:10]}, "
                f"out of order at {[b for a, b in zip(w.ids, w.ids[1:]) if b <= a][:10]}"
            )

        # The killed relay's consumer is removed once its entries were re-claimed.
        def consumers() -> list[str]:
            return [c["name"].decode() for c in r.xinfo_consumers(stream, settings.events_group)]

        await eventually(
            lambda: len(consumers()) == len(survivors) and not any(f"-{victim_pid}-" in c for c in consumers()),
            30,
            f"the dead consumer to be removed (consumers: {consumers()})",
        )
        # Another instance took the reconciler over, and only one.
        after = await eventually(lambda: leaders(survivors), 15, "a new reconciler lease holder")
        assert len(after) == 1
        order = [health(s)["order"] for s in survivors]
        print("sequencer on the survivors:", order)
        assert all(o["waiting"] == 0 for o in order), order
    finally:
        for w, _, _ in watchers:
            with contextlib.suppress(socketio.exceptions.SocketIOError, OSError):
                await w.close()
        for side in sides:
            side.stop()
        for key in r.scan_iter(f"{stream}*"):
            r.delete(key)
