"""Everything one running sidecar holds, in one object.

Why one object: the Socket.IO handlers, the HTTP routes, the background tasks
and the metrics all read the same state (who is connected, the relay's
counters, whether the sweep reaches the database).  :func:`dashboard_server.server.create_app`
builds a :class:`Sidecar` and hands it to each of them, so none of them looks
another up, and a test can build a second app with other settings.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import socketio

from dashboard_server.fanout import Fanout, Sequencer
from dashboard_server.gcpolicy import GcPolicy
from dashboard_server.presence import Presence
from dashboard_server.ratelimit import MemoryBuckets, RedisBuckets
from include.events.reconcile import ReconcilerLease
from include.events.relay import RelayStats
from include.settings import Settings

#: A relay error within this many seconds, not followed by an acknowledged batch, degrades /healthz.
RELAY_ERROR_WINDOW = 30.0


@dataclass
class TimedRelayStats(RelayStats):
    """The relay's counters, plus when the last error and the last acknowledged batch happened.

    The relay only counts errors; health needs to know whether they are still
    happening.  Timestamps are taken when the counters change, so the relay's
    own code stays as it is; a counter update costs one more Python call.
    """

    last_error_at: float = 0.0
    last_ack_at: float = 0.0

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name == "errors":
            object.__setattr__(self, "last_error_at", time.time())
        elif name == "acked":
            object.__setattr__(self, "last_ack_at", time.time())


@dataclass(eq=False)
class Sidecar:
    """The state of one sidecar app: its clients, its event ordering, its Redis wiring and its health."""

    settings: Settings
    fanout: Fanout
    sequencer: Sequencer
    gc_policy: GcPolicy
    sio: socketio.AsyncServer
    #: ``redis.asyncio`` client shared by presence, rate limits and forwarding; None without Redis.
    redis: Any
    presence: Presence
    connect_limit: MemoryBuckets | RedisBuckets
    event_limit: MemoryBuckets | RedisBuckets
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task] = field(default_factory=list)
    #: Persisted events waiting to be published for the other instances (Redis only, set at startup).
    forward_queue: asyncio.Queue | None = None
    #: The running relay's counters (None until the relay task starts).
    relay_stats: TimedRelayStats | None = None
    reconciler_lease: ReconcilerLease | None = None
    #: Why the last read of the database failed (the sweep's each second, or a join's or a route's),
    #: None since one succeeded.  Only an authenticated /healthz shows the text: a driver's message
    #: names the database host and port.
    database_failure: str | None = None

    @property
    def namespace(self) -> str:
        """Prefix of every Redis key and channel: two deployments sharing one Redis never meet."""
        return self.settings.events_stream

    def relay_failing(self, now: float | None = None) -> bool:
        """The relay hit an error recently and has acknowledged nothing since."""
        stats = self.relay_stats
        if stats is None or not stats.errors:
            return False
        now = time.time() if now is None else now
        return stats.last_error_at > stats.last_ack_at and now - stats.last_error_at < RELAY_ERROR_WINDOW

    def database_failed(self, exc: BaseException) -> None:
        """A read of the database failed: /healthz says degraded until the next sweep reads it again."""
        self.database_failure = f"{type(exc).__name__}: {exc}"

    def task_status(self) -> dict[str, str]:
        return {t.get_name(): ("done" if t.done() else "running") for t in self.tasks}

    def health_reasons(self) -> dict[str, str]:
        """What is wrong now, by component; the values may name hosts and ports (error texts)."""
        reasons: dict[str, str] = {}
        if self.database_failure is not None:
            reasons["database"] = self.database_failure
        if self.relay_failing():
            reasons["relay"] = self.relay_stats.last_error
        for name, state in self.task_status().items():
            if state != "running":
                reasons[f"task:{name}"] = f"background task {name!r} stopped"
        return reasons
