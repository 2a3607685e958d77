"""The embedded outbox: an append-only SQLite table, the default when no Redis is configured.

Why SQLite: it needs no server, a put is one autocommitted ``INSERT`` (WAL mode,
``synchronous=NORMAL``: durable against a crashed process, cheap enough for a
task's hook), and it works across processes on one machine: task processes
write, the sidecar's relay reads and deletes what it has acknowledged.  The
Redis transport reuses it as its local spool (:mod:`include.events.outbox.spool`).
"""

from __future__ import annotations

import atexit
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from include.events.outbox.base import Outbox, OutboxItem, event_body
from include.events.schema import StateEvent

log = logging.getLogger(__name__)


class SQLiteOutbox(Outbox):
    """An append-only SQLite outbox; safe across processes and forks.

    ``AUTOINCREMENT`` keeps row ids increasing forever (never reused after a
    delete), so read order is put order.  Each process opens its own
    connection lazily (and again after a fork).  If even the local file cannot
    be written (disk full, locked longer than the busy timeout), the event is
    kept in memory and retried on the next put and at process exit, and the
    failure is logged — it is never dropped silently.
    """

    BUSY_TIMEOUT_MS = 250
    #: How often a waiting relay looks for new rows: every event waits half of it on average, and
    #: each look is one indexed ``SELECT ... LIMIT 1``, so it is kept as short as costs no
    #: measurable CPU in bench/bench_dashboard.py.
    POLL_S = 0.002

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._lock = threading.Lock()
        self._memory: deque[str] = deque()
        self._atexit = False
        self._connections = 0  # connections opened (a new one starts its own data_version)
        self._writes = 0  # rows this object appended (its own commits do not move data_version)
        self._empty_at: tuple | None = None  # the change mark when the relay last found the table empty

    # -- connection

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=self.BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout={self.BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS outbox ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, created REAL NOT NULL,"
            " read_at REAL)"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS dead_letters ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, error TEXT NOT NULL, created REAL NOT NULL)"
        )
        self._conn, self._pid = conn, os.getpid()
        self._connections += 1
        return conn

    def warm(self) -> None:
        try:
            with self._lock:
                self._connect()
        except Exception:  # noqa: BLE001 - put() reports (and keeps the event) if the file stays unusable
            log.debug("embedded outbox %s not opened early", self.path, exc_info=True)

    # -- listener side

    def put(self, event: StateEvent) -> None:
        body = event_body(event)
        if body is not None:
            self.put_raw(body)

    def put_raw(self, body: str) -> bool:
        """Append one JSON body; returns False if it had to be kept in memory."""
        with self._lock:
            try:
                conn = self._connect()
                if self._memory:
                    self._drain_memory(conn)
                conn.execute("INSERT INTO outbox(body, created) VALUES (?, ?)", (body, time.time()))
                self._writes += 1
                return True
            except Exception as exc:
                self._memory.append(body)
                self._register_atexit()
                log.warning(
                    "event outbox %s not writable (%s); %d event(s) held in memory", self.path, exc, len(self._memory)
                )
                return False

    def _drain_memory(self, conn: sqlite3.Connection) -> None:
        while self._memory:
            conn.execute("INSERT INTO outbox(body, created) VALUES (?, ?)", (self._memory[0], time.time()))
            self._memory.popleft()
            self._writes += 1

    def _register_atexit(self) -> None:
        if not self._atexit:
            self._atexit = True
            atexit.register(self._flush_memory_at_exit)

    def _flush_memory_at_exit(self) -> None:
        with self._lock:
            try:
                if self._memory:
                    self._drain_memory(self._connect())
            except Exception as exc:
                log.error(
                    "event outbox %s: %d event(s) could not be written at exit: %s", self.path, len(self._memory), exc
                )

    def flush(self, timeout: float = 0.5) -> int:
        with self._lock:
            n = len(self._memory)
            if n:
                try:
                    self._drain_memory(self._connect())
                except Exception:
                    return n - len(self._memory)
            return n

    # -- row access (also what the Redis transport's spool drains with)

    def peek(self, limit: int) -> list[tuple[int, str]]:
        with self._lock:
            rows = self._connect().execute("SELECT id, body FROM outbox ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [(int(r[0]), r[1]) for r in rows]

    def _claim(self, limit: int) -> list[tuple[int, str, bool]]:
        """Read the oldest rows and stamp them as read; the flag says whether they had been read before."""
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(
                    "SELECT id, body, read_at IS NOT NULL FROM outbox ORDER BY id LIMIT ?", (limit,)
                ).fetchall()
                if rows:
                    conn.execute(
                        "UPDATE outbox SET read_at = ? WHERE id BETWEEN ? AND ? AND read_at IS NULL",
                        (time.time(), rows[0][0], rows[-1][0]),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return [(int(r[0]), r[1], bool(r[2])) for r in rows]

    def delete(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if not ids:
            return
        with self._lock:
            conn = self._connect()
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                conn.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(chunk))})", chunk)

    def dead_letter(self, row_id: int, body: str, error: str) -> None:
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO dead_letters(body, error, created) VALUES (?, ?, ?)", (body, error, time.time())
                )
                conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def backlog(self) -> int:
        with self._lock:
            return int(self._connect().execute("SELECT count(*) FROM outbox").fetchone()[0]) + len(self._memory)

    # -- relay side

    def _change_mark(self) -> tuple:
        """What changes whenever a row may have been added since: SQLite's ``data_version``, and our own writes.

        ``PRAGMA data_version`` moves when another connection commits, and reads no
        table; this object's own inserts (the sidecar's reconciler puts through the
        relay's outbox) do not move it, so they are counted here.
        """
        with self._lock:
            conn = self._connect()
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            return (self._pid, self._connections, version, self._writes)

    def read_batch(self, consumer: str, count: int = 200, block_ms: int = 1000) -> list[OutboxItem]:
        """Claim up to ``count`` rows, waiting up to ``block_ms`` for some.

        The wait looks every ``POLL_S``, but reads the table only when something
        committed since the table was last found empty: an idle relay costs one
        pragma per look, not a query (unacknowledged rows are still there, so
        the table is not empty and is read again).
        """
        deadline = time.monotonic() + block_ms / 1000
        rows: list[tuple[int, str, bool]] = []
        while True:
            mark = self._change_mark()
            if mark != self._empty_at:
                rows = self._claim(count) if self.peek(1) else []
                self._empty_at = None if rows else mark
            if rows or time.monotonic() >= deadline:
                break
            time.sleep(min(self.POLL_S, max(0.0, deadline - time.monotonic())))
        items = []
        for row_id, body, seen in rows:
            try:
                event = StateEvent.from_json(body)
            except Exception as exc:
                log.error("dead-lettering undecodable outbox row %s: %s", row_id, exc)
                self.dead_letter(row_id, body, str(exc))
                continue
            items.append(OutboxItem(ref=str(row_id), event=event, redelivered=seen))
        return items

    def ack(self, items: Iterable[OutboxItem]) -> None:
        self.delete(int(item.ref) for item in items)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
