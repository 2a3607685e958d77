"""The durable hand-off between the Airflow listener and the event relay.

The listener (in task processes and the scheduler) puts events; the relay (in
the dashboard sidecar) reads them, persists and publishes them, and only then
acknowledges them.  One contract (:mod:`~include.events.outbox.base`), two
transports, picked by :func:`get_outbox` from the settings:

* :mod:`~include.events.outbox.redis` (``redis_url`` set): a Redis Stream
  shared by every sidecar instance, with a local
  :mod:`~include.events.outbox.spool` for when Redis cannot take an event;
* :mod:`~include.events.outbox.sqlite` (nothing configured): an append-only
  SQLite file under ``state_dir``, for a single machine.

The listener imports this package when the plugin loads, before any task runs,
so no transport module may do more than define classes at import time.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from include.events.outbox.base import Outbox, OutboxItem, default_consumer_name
from include.events.outbox.redis import RedisOutbox
from include.events.outbox.sqlite import SQLiteOutbox
from include.settings import Settings, get_settings

__all__ = [
    "Outbox",
    "OutboxItem",
    "RedisOutbox",
    "SQLiteOutbox",
    "default_consumer_name",
    "get_outbox",
    "reset_outboxes",
]

_outboxes: dict[tuple, Outbox] = {}
_factory_lock = threading.Lock()


def embedded_outbox_path(settings: Settings) -> Path:
    return settings.state_dir / "events" / "outbox.db"


def redis_spool_path(settings: Settings) -> Path:
    safe_stream = re.sub(r"[^A-Za-z0-9_.-]+", "_", settings.events_stream)[:120]
    return settings.state_dir / "events" / f"redis-spool-{safe_stream}.db"


def get_outbox(settings: Settings | None = None) -> Outbox:
    """The process-wide outbox for these settings (Redis Stream if configured, else embedded SQLite)."""
    settings = settings or get_settings()
    key = (settings.redis_url, settings.events_stream, settings.events_group, str(settings.state_dir))
    outbox = _outboxes.get(key)
    if outbox is None:
        with _factory_lock:
            outbox = _outboxes.get(key)
            if outbox is None:
                if settings.redis_url:
                    outbox = RedisOutbox(
                        settings.redis_url,
                        settings.events_stream,
                        settings.events_group,
                        redis_spool_path(settings),
                        timeout_ms=settings.events_redis_timeout_ms,
                        claim_idle_ms=settings.events_claim_idle_ms,
                    )
                else:
                    outbox = SQLiteOutbox(embedded_outbox_path(settings))
                _outboxes[key] = outbox
    return outbox


def reset_outboxes() -> None:
    """Close and forget cached outboxes (tests switch settings)."""
    with _factory_lock:
        for outbox in _outboxes.values():
            try:
                outbox.close()
            except Exception:
                pass
        _outboxes.clear()
