"""The relay: outbox → persist (commit) → publish → acknowledge.

Each dashboard sidecar instance runs :func:`run_relay` as a background task.
The order of the steps is the no-loss guarantee:

1. **read** a batch from the outbox (a Redis consumer group shares the stream
   between instances; each entry goes to one of them);
2. **persist** the batch in one transaction, which gives every event its
   monotonic id (see :mod:`include.events.store`) — nothing is published
   that is not in the database, so a client can always replay it;
3. **publish** each event: hand it to the ``publish`` callback (the sidecar's
   fan-out to the project room, ``dashboard_server.background``);
4. **acknowledge** — only now does the outbox forget the events.

A relay that crashes between 2 and 4 leaves its batch unacknowledged: another
relay re-claims it (Redis) or the restarted relay re-reads it (SQLite); the
items arrive flagged ``redelivered`` and are re-published even though they
are already stored.  Otherwise an event that was already stored (a duplicate
from the listener's spool or from the reconciler) is *not* published again.
Publishing is therefore at-least-once around crashes; the id lets clients
drop the rare duplicate.

Order across relays: a single writer lock per stream (a PostgreSQL
session-level advisory lock, or a file lock for the embedded SQLite setup) is
held from persist through publish of each batch.  So each relay hands its
events to ``publish`` in id order, and batches of different relays never
interleave.  Other sidecar instances still receive a batch over pub/sub a
little later -- possibly after they fanned out a later batch of their own --
so each instance puts what arrives back into id order before its clients see
it (``dashboard_server.fanout.Sequencer``).  The lock is held for one batch
only, so several relays still share the work and take over from one another
at once.

Dead consumers: every relay process is a new consumer of the stream's group
(its name carries the pid), so a crashed or redeployed relay leaves its name
behind.  Once other relays have re-claimed its entries, it owns none and
stops touching the stream; :func:`remove_dead_consumers` (run by every relay
now and then) deletes such consumers.  Only consumers owning no pending
entries are removed, atomically, so nothing is ever dropped from the group's
pending list; a live relay that was merely idle is re-created by its next
read.

Failures inside a batch (database down, publish raising) are retried with
backoff while the relay keeps the batch in hand; nothing is acknowledged
until it succeeded.

Latency: the relay's blocking calls (outbox read, lock + persist, release +
ack) run in **one thread of its own**, not in asyncio's shared default
executor, where a burst of joins (membership checks, replays) would queue
live events behind them; and each batch makes two trips to that thread
besides the read (take the lock and persist in one, release and acknowledge
in the other), so the event loop is touched as little as possible.  Each
event's time in the outbox, in persist and until publish is reported to an
optional ``observe(stage, seconds)`` callback (the sidecar's metrics).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from include.db.models import ExecutionEvent
from include.db.session import get_engine
from include.events.outbox import Outbox, OutboxItem, RedisOutbox, default_consumer_name, get_outbox
from include.events.store import event_to_wire, persist_many
from include.settings import Settings, get_settings

log = logging.getLogger(__name__)

Publish = Callable[[dict], Awaitable[None]]
#: Runs a blocking callable off the event loop: ``await run(fn, *args)``.
Run = Callable[..., Awaitable[Any]]
#: ``observe(stage, seconds)``: per event, stages "outbox" (occurred -> read), "persist"
#: (read -> committed) and "publish" (read -> handed to ``publish``).
Observe = Callable[[str, float], None]


@dataclass
class RelayStats:
    """Counters a sidecar can expose as metrics."""

    read: int = 0
    persisted: int = 0
    duplicates: int = 0
    published: int = 0
    acked: int = 0
    errors: int = 0
    last_error: str = ""
    last_batch_at: float = 0.0


class WriterLock:
    """One writer per stream across processes: persist + publish of a batch run under it.

    PostgreSQL: ``pg_try_advisory_lock`` on a dedicated connection (released if
    the relay dies, because the server drops the session).  SQLite (embedded,
    one machine): an ``fcntl`` lock file next to the outbox.
    """

    def __init__(self, engine: Engine, name: str, lock_dir: Path):
        self.engine = engine
        self.key = (
            int.from_bytes(hashlib.sha256(f"autopr-relay:{name}".encode()).digest()[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF
        )
        self.is_pg = engine.dialect.name == "postgresql"
        self._conn = None
        self._fd: int | None = None
        self._lock_path = lock_dir / f"relay-{hashlib.sha256(name.encode()).hexdigest()[:12]}.lock"

    def try_acquire(self) -> bool:
        if self.is_pg:
            if self._conn is None:
                self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                return bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
            except Exception:
                self._drop_conn()
                raise
        import fcntl

        if self._fd is None:
            self._lock_path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def release(self) -> None:
        if self.is_pg:
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                except Exception:
                    self._drop_conn()  # closing the session releases the lock too
        elif self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _drop_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def close(self) -> None:
        self._drop_conn()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


#: A consumer that owns no pending entries and has not touched the stream for this many times
#: ``events_claim_idle_ms`` is dead: a live relay reads every ``block_ms``, and one stuck
#: longer than ``events_claim_idle_ms`` has had its entries re-claimed by the others anyway.
DEAD_CONSUMER_CLAIM_IDLES = 2
#: At most this often (seconds) a relay looks for dead consumers.
DEAD_CONSUMER_CHECK_S = 10.0

_REMOVE_DEAD_CONSUMERS = """
local removed = {}
for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
  if fields['name'] ~= ARGV[3] and tonumber(fields['pending']) == 0 and tonumber(fields['idle']) > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    removed[#removed + 1] = fields['name']
  end
end
return removed
"""


def remove_dead_consumers(client: Any, stream: str, group: str, idle_ms: int, keep: str) -> list[str]:
    """Delete the group's consumers that own no pending entries and were idle over ``idle_ms`` (not ``keep``).

    One Lua script, so a consumer cannot read an entry between the check and
    the delete (deleting a consumer drops its pending entries).
    """
    import redis

    try:
        removed = client.eval(_REMOVE_DEAD_CONSUMERS, 1, stream, group, int(idle_ms), keep)
    except redis.ResponseError as exc:
        if "NOGROUP" in str(exc) or "no such key" in str(exc).lower():
            return []
        raise
    return [name.decode() if isinstance(name, bytes) else str(name) for name in removed or []]


def persist_batch(engine: Engine, items: list[OutboxItem]) -> list[tuple[dict[str, Any], bool]]:
    """Persist a batch in one transaction; return ``(wire, created)`` per item, in order."""
    with Session(engine) as session, session.begin():
        results = persist_many(session, [item.event for item in items])
        existing_ids = [event_id for event_id, created in results if not created]
        stored: dict[int, ExecutionEvent] = {}
        if existing_ids:
            rows = session.execute(select(ExecutionEvent).where(ExecutionEvent.id.in_(existing_ids))).scalars()
            stored = {row.id: row for row in rows}
        out = []
        for item, (event_id, created) in zip(items, results, strict=True):
            if created or event_id not in stored:
                wire = event_to_wire({"id": event_id, **item.event.model_dump()})
            else:
                wire = event_to_wire(stored[event_id])
            out.append((wire, created))
    return out


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _retrying(
    step: str, fn: Callable[[], Awaitable[Any]], stop: asyncio.Event, stats: RelayStats
) -> tuple[bool, Any]:
    """Run ``fn`` until it succeeds or ``stop`` is set; returns (succeeded, result)."""
    delay = 0.1
    while True:
        try:
            return True, await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stats.errors += 1
            stats.last_error = f"{step}: {type(exc).__name__}: {exc}"
            log.warning("event relay: %s failed (%s); retrying in %.1fs", step, exc, delay)
        if stop.is_set():
            return False, None
        await _wait(stop, delay)
        if stop.is_set():
            return False, None
        delay = min(delay * 2, 5.0)


async def relay_batch(
    items: list[OutboxItem],
    publish: Publish,
    *,
    outbox: Outbox,
    engine: Engine,
    lock: WriterLock,
    stop: asyncio.Event,
    stats: RelayStats,
    run: Run | None = None,
    observe: Observe | None = None,
    read_at: float | None = None,
) -> bool:
    """Persist, publish and acknowledge one batch; returns False if stopped before finishing.

    ``run`` executes the blocking steps (default: ``asyncio.to_thread``); the
    relay passes its own single thread.
    """
    run = run or asyncio.to_thread
    read_at = read_at if read_at is not None else time.time()

    def lock_and_persist() -> list[tuple[dict[str, Any], bool]] | None:
        """One trip to the relay thread: the writer lock, then the batch's transaction (None: lock busy)."""
        if not lock.try_acquire():
            return None
        try:
            return persist_batch(engine, items)
        except BaseException:
            lock.release()
            raise

    delay = 0.002
    while True:
        ok, results = await _retrying("persist", lambda: run(lock_and_persist), stop, stats)
        if not ok:
            return False
        if results is not None:
            break
        # Another relay holds the lock for its batch (milliseconds): wait a little and try again.
        if stop.is_set():
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    persisted_at = time.time()
    if observe is not None:
        for item in items:
            observe("outbox", max(0.0, read_at - item.event.occurred_at.timestamp()))
            observe("persist", persisted_at - read_at)
    published = False
    try:
        for item, (wire, created) in zip(items, results, strict=True):
            if created:
                stats.persisted += 1
            else:
                stats.duplicates += 1
            if created or item.redelivered:
                ok, _ = await _retrying("publish", lambda wire=wire: publish(wire), stop, stats)
                if not ok:
                    return False
                stats.published += 1
                if observe is not None:
                    observe("publish", time.time() - read_at)
        published = True
    finally:
        if not published:
            await run(lock.release)
    released = False

    def release_and_ack() -> None:
        """The other trip: let the next batch (any relay) in, then forget this one in the outbox."""
        nonlocal released
        if not released:
            lock.release()  # never raises: a failed unlock drops the session, which unlocks
            released = True
        outbox.ack(items)

    ok, _ = await _retrying("ack", lambda: run(release_and_ack), stop, stats)
    if ok:
        stats.acked += len(items)
    return ok


async def run_relay(
    publish: Publish,
    *,
    settings: Settings | None = None,
    stop: asyncio.Event,
    outbox: Outbox | None = None,
    consumer: str | None = None,
    batch_size: int = 200,
    block_ms: int = 100,
    stats: RelayStats | None = None,
    observe: Observe | None = None,
) -> None:
    """Move events from the outbox to the database and then to ``publish`` until ``stop`` is set.

    ``publish(wire)`` receives :func:`include.events.store.event_to_wire` dicts
    in id order; it should raise if the event could not be handed on (the
    relay retries it and does not acknowledge until it succeeds).

    ``block_ms`` is how long one read waits for new events.  A read returns as
    soon as an event arrives, so it does not delay live events; but between
    reads is when the relay drains the listeners' local spool (events that
    missed Redis) and re-claims a crashed relay's entries, so it is short.
    """
    settings = settings or get_settings()
    outbox = outbox or get_outbox(settings)
    consumer = consumer or default_consumer_name()
    stats = stats if stats is not None else RelayStats()
    engine = get_engine(settings.database_url)
    lock = WriterLock(
        engine, f"{settings.redis_url or 'embedded'}|{settings.events_stream}", settings.state_dir / "events"
    )
    # One thread for every blocking step: the relay is sequential, and a private thread is never
    # busy with someone else's work (the default executor also serves joins, replays, the sweep).
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-relay")
    loop = asyncio.get_running_loop()

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        return await loop.run_in_executor(executor, fn, *args)

    log.info("event relay %s started (%s)", consumer, type(outbox).__name__)
    read_delay = 0.1
    prune = isinstance(outbox, RedisOutbox)
    prune_every = min(DEAD_CONSUMER_CHECK_S, outbox.claim_idle_ms / 1000) if prune else 0.0
    pruned_at = time.monotonic()
    try:
        while not stop.is_set():
            if prune and time.monotonic() - pruned_at >= prune_every:
                pruned_at = time.monotonic()
                try:
                    removed = await run(
                        remove_dead_consumers,
                        outbox.relay_client(),
                        outbox.stream,
                        outbox.group,
                        DEAD_CONSUMER_CLAIM_IDLES * outbox.claim_idle_ms,
                        consumer,
                    )
                    if removed:
                        log.info("event relay: removed dead stream consumer(s) %s", ", ".join(removed))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - housekeeping; the next check tries again
                    log.warning("event relay: could not look for dead stream consumers (%s)", exc)
            try:
                items = await run(outbox.read_batch, consumer, batch_size, block_ms)
                read_at = time.time()
                read_delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stats.errors += 1
                stats.last_error = f"read: {type(exc).__name__}: {exc}"
                log.warning("event relay: reading the outbox failed (%s); retrying in %.1fs", exc, read_delay)
                await _wait(stop, read_delay)
                read_delay = min(read_delay * 2, 5.0)
                continue
            if not items:
                continue
            stats.read += len(items)
            stats.last_batch_at = time.time()
            try:
                await relay_batch(
                    items,
                    publish,
                    outbox=outbox,
                    engine=engine,
                    lock=lock,
                    stop=stop,
                    stats=stats,
                    run=run,
                    observe=observe,
                    read_at=read_at,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - unacknowledged items come back (re-read / re-claimed)
                stats.errors += 1
                stats.last_error = f"batch: {type(exc).__name__}: {exc}"
                log.exception("event relay: batch failed; its events will be delivered again")
                await _wait(stop, 1.0)
    finally:
        # Not through the relay thread: a cancelled relay may leave it blocked in a read for block_ms.
        await asyncio.to_thread(lock.close)
        executor.shutdown(wait=False)
        log.info("event relay %s stopped", consumer)
