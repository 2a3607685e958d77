"""The Redis Streams outbox, used when ``settings.redis_url`` is set.

Why a stream: relays read it as one consumer group, so several sidecar
instances share the work and each event is handled once, and entries a crashed
relay read but never acknowledged are re-claimed (``XAUTOCLAIM``) after
``events_claim_idle_ms``.  The listener's client has socket timeouts of
``events_redis_timeout_ms`` and no retries; when Redis is slow or down, events
go to the local :class:`~include.events.outbox.spool.Spool` and the outbox
stops trying Redis for :data:`REDIS_BACKOFF_S`.  The spool is drained, in
order, on the next put that reaches Redis, at process exit (bounded), and by
any relay on the same machine.

``redis`` is imported inside the methods: the listener imports this module
in every task process, and only a deployment that configures Redis should
pay for the client library (the listener imports it early when it does).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from include.events.outbox.base import Outbox, OutboxItem, event_body
from include.events.outbox.spool import Spool
from include.events.schema import StateEvent

log = logging.getLogger(__name__)

#: Field name of the JSON body inside a stream entry.
BODY_FIELD = b"e"
#: How long the Redis outbox goes straight to the spool after a failed call.
REDIS_BACKOFF_S = 1.0
#: Longest XREADGROUP block a relay may ask for (its client's socket timeout is a bit longer).
MAX_BLOCK_MS = 10_000


class RedisOutbox(Outbox):
    """Redis Stream transport with a local spool for when Redis is unreachable.

    Listener side (:meth:`put`): one ``XADD`` on a lazily created client with
    millisecond socket timeouts and no retries.  Any failure spools the event
    and opens a circuit for :data:`REDIS_BACKOFF_S` during which puts go
    straight to the spool (so an outage costs each task microseconds, not
    timeouts).  While the spool holds events, new events are spooled behind
    them, so one process's events reach the stream in the order they happened.

    Relay side: consumer group ``group`` on ``stream``.  A lost group (Redis
    restarted without persistence) is re-created from the stream's start.
    """

    def __init__(
        self,
        url: str,
        stream: str,
        group: str,
        spool_path: str | Path,
        *,
        timeout_ms: int = 20,
        claim_idle_ms: int = 30000,
    ):
        self.url = url
        self.stream = stream
        self.group = group
        self.dead_stream = f"{stream}:dead"
        self.timeout_s = timeout_ms / 1000
        self.claim_idle_ms = claim_idle_ms
        self.spool = Spool(spool_path)
        self._client_obj = None
        self._client_pid = -1
        self._relay_client_obj = None
        self._relay_pid = -1
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._atexit = False
        self._last_claim = 0.0

    # -- clients

    def _client(self):
        """The listener-side client: tiny timeouts, no retries, one per process."""
        if self._client_obj is None or self._client_pid != os.getpid():
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            self._client_obj = redis.Redis.from_url(
                self.url,
                socket_timeout=self.timeout_s,
                socket_connect_timeout=self.timeout_s,
                retry=Retry(NoBackoff(), 0),
                retry_on_timeout=False,
                health_check_interval=0,
                lib_name=None,
                lib_version=None,
            )
            self._client_pid = os.getpid()
        return self._client_obj

    def relay_client(self):
        """The relay-side client: patient timeouts (it blocks on XREADGROUP), one per process."""
        if self._relay_client_obj is None or self._relay_pid != os.getpid():
            import redis

            self._relay_client_obj = redis.Redis.from_url(
                self.url,
                socket_timeout=MAX_BLOCK_MS / 1000 + 5,
                socket_connect_timeout=2.0,
                health_check_interval=10,
            )
            self._relay_pid = os.getpid()
        return self._relay_client_obj

    def warm(self) -> None:
        """Connect and PING within the hand-off's timeout; a Redis that does not answer is tripped as by put()."""
        try:
            with self._lock:
                if time.monotonic() >= self._down_until:
                    self._client().ping()
        except Exception as exc:  # noqa: BLE001 - never raise into a task
            self._trip(exc)

    # -- listener side

    def put(self, event: StateEvent) -> None:
        body = event_body(event)
        if body is None:
            return
        try:
            with self._lock:
                self._put_locked(body)
        except Exception:  # never raise into a task
            log.exception("event hand-off failed unexpectedly; spooling")
            self._spool(body)

    def _put_locked(self, body: str) -> None:
        now = time.monotonic()
        if now < self._down_until:
            self._spool(body)
            return
        if self.spool.pending():
            # Older events wait in the spool: queue behind them, then try to drain.
            self._spool(body)
            self._flush_locked(deadline=now + 0.05, chunks=1)
            return
        try:
            self._client().xadd(self.stream, {BODY_FIELD: body})
        except Exception as exc:
            self._trip(exc)
            self._spool(body)

    def _trip(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + REDIS_BACKOFF_S
        log.warning(
            "Redis event stream unreachable (%s: %s); buffering events in %s", type(exc).__name__, exc, self.spool.path
        )
        self._client_obj = None  # reconnect from scratch next time

    def _spool(self, body: str) -> None:
        self.spool.add(body)
        if not self._atexit:
            self._atexit = True
            atexit.register(self._flush_at_exit)

    def _flush_at_exit(self) -> None:
        try:
            self.flush(timeout=0.5)
        except Exception:
            pass
        if self.spool.pending():
            log.warning("Redis unreachable at exit: events stay spooled in %s until the next flush", self.spool.path)

    def flush(self, timeout: float = 0.5, *, patient: bool = False) -> int:
        """Move spooled events to the stream, oldest first, for at most ``timeout`` seconds.

        An explicit flush tries Redis even inside the back-off window.  ``patient``
        uses the relay's client (seconds-long timeouts) instead of the listener's
        millisecond one: the relay can afford to wait, a task cannot.
        """
        with self._lock:
            client = self.relay_client() if patient else None
            return self._flush_locked(deadline=time.monotonic() + timeout, chunks=None, client=client)

    def _flush_locked(self, deadline: float, chunks: int | None, client=None) -> int:
        def send(bodies: list[str]) -> None:
            pipe = (client or self._client()).pipeline(transaction=False)
            for body in bodies:
                pipe.xadd(self.stream, {BODY_FIELD: body})
            pipe.execute()

        return self.spool.drain(send, deadline=deadline, chunks=chunks, on_error=self._trip)

    # -- relay side

    def ensure_group(self, client=None) -> None:
        import redis

        client = client or self.relay_client()
        try:
            client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _decode(self, client, entries, redelivered: bool) -> list[OutboxItem]:
        items = []
        for entry_id, fields in entries or []:
            if fields is None:  # deleted while pending
                continue
            ref = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            body = fields.get(BODY_FIELD) or fields.get(BODY_FIELD.decode())
            try:
                event = StateEvent.from_json(body)
            except Exception as exc:
                log.error("dead-lettering undecodable stream entry %s: %s", ref, exc)
                pipe = client.pipeline(transaction=False)
                pipe.xadd(self.dead_stream, {BODY_FIELD: body or b"", b"error": str(exc)})
                pipe.xack(self.stream, self.group, ref)
                pipe.xdel(self.stream, ref)
                pipe.execute()
                continue
            items.append(OutboxItem(ref=ref, event=event, redelivered=redelivered))
        return items

    def read_batch(self, consumer: str, count: int = 200, block_ms: int = 1000) -> list[OutboxItem]:
        import redis

        block_ms = min(max(0, block_ms), MAX_BLOCK_MS)
        client = self.relay_client()
        # A relay on this machine also drains the listener spool (cheap when empty).
        if self.spool.pending():
            self.flush(timeout=0.5, patient=True)
        now = time.monotonic()
        if now - self._last_claim >= min(1.0, self.claim_idle_ms / 4000):
            self._last_claim = now
            try:
                claimed = client.xautoclaim(self.stream, self.group, consumer, self.claim_idle_ms, "0-0", count=count)
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self.ensure_group(client)
                claimed = None
            if claimed and claimed[1]:
                items = self._decode(client, claimed[1], redelivered=True)
                if items:
                    return items
        try:
            resp = client.xreadgroup(self.group, consumer, {self.stream: ">"}, count=count, block=block_ms or None)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group(client)
            resp = client.xreadgroup(self.group, consumer, {self.stream: ">"}, count=count, block=block_ms or None)
        items: list[OutboxItem] = []
        for _stream, entries in resp or []:
            items.extend(self._decode(client, entries, redelivered=False))
        return items

    def ack(self, items: Iterable[OutboxItem]) -> None:
        refs = [item.ref for item in items]
        if not refs:
            return
        pipe = self.relay_client().pipeline(transaction=False)
        pipe.xack(self.stream, self.group, *refs)
        # One consumer group owns the stream: acknowledged entries are done, free the memory.
        pipe.xdel(self.stream, *refs)
        pipe.execute()

    def backlog(self) -> int:
        client = self.relay_client()
        return int(client.xlen(self.stream)) + self.spool.backlog()

    def close(self) -> None:
        for client in (self._client_obj, self._relay_client_obj):
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass
        self._client_obj = self._relay_client_obj = None
        self.spool.close()
