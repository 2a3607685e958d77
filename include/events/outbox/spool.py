"""Where the Redis transport keeps events while Redis cannot take them.

Why a spool and not a retry: a task's hook may not wait for Redis, so an event
that misses it is appended to a local :class:`~include.events.outbox.sqlite.SQLiteOutbox`
file and moved to the stream later, oldest first.  A *pending marker* file
next to it says "events are waiting": the listener's hot path checks it with
one ``stat`` instead of a query, and queues new events behind the waiting ones
so that one process's events reach the stream in the order they happened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from include.events.outbox.sqlite import SQLiteOutbox

log = logging.getLogger(__name__)

#: Spooled entries moved per chunk (keeps the put that finds Redis back short).
FLUSH_CHUNK = 200


class Spool:
    """A local SQLite file of event bodies plus the marker that says it holds some."""

    def __init__(self, path: str | Path):
        self.store = SQLiteOutbox(path)
        self.path = self.store.path
        self.marker = Path(str(path) + ".pending")

    def pending(self) -> bool:
        """Events may be waiting (cheap: one ``stat``)."""
        return self.marker.exists()

    def add(self, body: str) -> None:
        """Keep one event body and mark the spool as pending (after the insert, see :meth:`drain`)."""
        self.store.put_raw(body)
        try:
            self.marker.touch()
        except OSError:
            log.exception("could not mark the event spool as pending: %s", self.marker)

    def drain(
        self,
        send: Callable[[list[str]], None],
        *,
        deadline: float,
        chunks: int | None,
        on_error: Callable[[Exception], None],
    ) -> int:
        """Hand spooled bodies to ``send`` oldest first, a chunk at a time, until empty, ``chunks`` or ``deadline``.

        A chunk leaves the spool only after ``send`` returned.  When ``send``
        raises, the spool stays marked and ``on_error`` gets the exception.
        Returns how many bodies were moved.
        """
        if not self.marker.exists():
            return 0
        # Remove the marker *before* draining: a concurrent spooler re-creates it after
        # its insert, so an event spooled while we drain is never stranded unmarked.
        try:
            self.marker.unlink()
        except FileNotFoundError:
            pass
        moved = 0
        done = 0
        try:
            while chunks is None or done < chunks:
                rows = self.store.peek(FLUSH_CHUNK)
                if not rows:
                    return moved
                send([body for _row_id, body in rows])
                self.store.delete(row_id for row_id, _ in rows)
                moved += len(rows)
                done += 1
                if time.monotonic() >= deadline:
                    break
            if self.store.peek(1):
                self.marker.touch()
        except Exception as exc:
            self.marker.touch()
            on_error(exc)
        return moved

    def backlog(self) -> int:
        return self.store.backlog()

    def close(self) -> None:
        self.store.close()
