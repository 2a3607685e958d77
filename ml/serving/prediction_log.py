"""The prediction log: every served answer becomes a row of ``ml_predictions``, written off the hot path.

Rows (model version, arm, repository, optional issue id) are appended to a
list by the request and written in batches by a background thread, so logging
costs a request a list append, and a slow or unavailable database never slows
an answer down.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class PredictionLog:
    """Batches prediction rows to ``ml_predictions`` from a background thread.

    ``flush()`` writes what is pending now (tests, shutdown).  If the database
    is down, rows stay queued (bounded by ``max_pending``; the oldest are
    dropped with a warning beyond that) and are retried on the next flush.
    """

    def __init__(self, interval: float = 0.5, max_pending: int = 200_000):
        self.interval = interval
        self.max_pending = max_pending
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def add(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._pending.extend(rows)
            overflow = len(self._pending) - self.max_pending
            if overflow > 0:
                del self._pending[:overflow]
                log.warning("prediction log backlog full: dropped %d oldest rows", overflow)
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # pragma: no cover - logged, retried next round
                log.exception("writing prediction log failed; will retry")

    def flush(self) -> int:
        """Write pending rows now; returns how many were written."""
        with self._flush_lock:
            with self._lock:
                rows, self._pending = self._pending, []
            if not rows:
                return 0
            from sqlalchemy import insert

            from include.db.models import MLPrediction
            from include.db.session import session_scope

            try:
                with session_scope() as session:
                    session.execute(insert(MLPrediction), rows)
            except Exception:
                with self._lock:
                    self._pending[:0] = rows
                raise
            return len(rows)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)
