"""The contract every outbox transport implements, defined once.

The listener runs inside task processes and the scheduler, so its side of the
contract (:meth:`Outbox.put`) must hand an event over without blocking the
task, must never raise, and must never lose an event silently.  The relay (in
the dashboard sidecar) reads, and acknowledges only once an event is
persisted and published, so delivery is at-least-once;
:func:`include.events.store.persist` is idempotent on the event key, which
makes the duplicates harmless.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

from include.events.schema import StateEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxItem:
    """One event read by a relay.

    ``ref`` identifies it to :meth:`Outbox.ack`.  ``redelivered`` is true when
    the item may already have been processed (re-claimed from a crashed relay,
    or left unacknowledged before a restart): the relay then re-publishes it
    even when persisting finds it already stored.
    """

    ref: str
    event: StateEvent
    redelivered: bool = False


class Outbox(ABC):
    """Listener side: :meth:`put` (and :meth:`flush`). Relay side: :meth:`read_batch` and :meth:`ack`."""

    @abstractmethod
    def put(self, event: StateEvent) -> None:
        """Hand ``event`` over. Never raises; never blocks the task for longer than the transport's timeout."""

    def flush(self, timeout: float = 0.5) -> int:
        """Move locally buffered events to the real transport; returns how many moved."""
        return 0

    def warm(self) -> None:
        """Open this process's connection now, so the first :meth:`put` finds it open. Never raises.

        Why: every task runs in a fresh process, and a connection opened lazily
        would be opened inside the task's first hook call.  The listener calls
        this from Airflow's ``on_starting`` hook, which the task runner calls in
        the task process itself (after the fork) before it parses the DAG.
        """
        return None

    @abstractmethod
    def read_batch(self, consumer: str, count: int = 200, block_ms: int = 1000) -> list[OutboxItem]:
        """Up to ``count`` events for ``consumer``, waiting up to ``block_ms`` when there are none."""

    @abstractmethod
    def ack(self, items: Iterable[OutboxItem]) -> None:
        """Mark items as fully handled (persisted and published); they are not delivered again."""

    @abstractmethod
    def backlog(self) -> int:
        """Events waiting to be read or acknowledged (for metrics and tests)."""

    def close(self) -> None:
        return None


def event_body(event: StateEvent) -> str | None:
    """The JSON a transport stores for ``event``; None (logged) in the impossible case it does not serialise."""
    try:
        return event.to_json()
    except Exception:  # pragma: no cover - a StateEvent always serialises
        log.exception("state event could not be serialised; dropped: %r", event)
        return None


def default_consumer_name() -> str:
    """A consumer name unique to this process (a restarted relay is a new consumer)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
