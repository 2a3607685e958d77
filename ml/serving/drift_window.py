"""The serving side of drift: what each served model version saw, folded into counts off the request path.

Why this module exists: drift is judged by the drift watch DAG in another
process (:mod:`ml.drift_watch`), so what the API saw must reach a store every
process reads — the app database the API already writes its prediction log
to.  A request only appends its records and answers to a list (no I/O, no
parsing); a background thread turns them into a profile per model version
(:func:`ml.drift.profile_records`) and writes one ``ml_drift_windows`` row per
version per flush.  A database that is down keeps the counts pending (they are
small) until it answers; a full backlog drops the oldest batches with a
warning.  Nothing here can fail or slow a prediction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)


class DriftWindow:
    """Pending predictions per model version, profiled and written to ``ml_drift_windows`` every ``interval`` s.

    :meth:`observe` is what a request calls; :meth:`flush` writes what is
    pending now (tests, shutdown, the bench).
    """

    def __init__(self, interval: float = 5.0, max_pending: int = 200_000):
        self.interval = interval
        self.max_pending = max_pending  # records waiting to be profiled, over all batches
        self._batches: list[tuple[str, str, Sequence[Mapping[str, Any]], list[tuple[str, float]], datetime]] = []
        self._waiting = 0
        self._profiles: dict[tuple[str, str], tuple[datetime, datetime, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def observe(self, model_name: str, model_version: str, records: Sequence[Mapping[str, Any]],
                answers: list[tuple[str, float]]) -> None:
        """Remember one answered request: its records and ``(severity, confidence)`` per record (no I/O)."""
        with self._lock:
            self._batches.append((model_name, model_version, records, answers, datetime.now(UTC)))
            self._waiting += len(records)
            while self._waiting > self.max_pending and len(self._batches) > 1:
                dropped = self._batches.pop(0)
                self._waiting -= len(dropped[2])
                log.warning("drift window backlog full: dropped %d predictions of %s v%s",
                            len(dropped[2]), dropped[0], dropped[1])
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="drift-window", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop the background writer; what is still pending is dropped with the window."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # pragma: no cover - logged, retried next round
                log.exception("writing drift window failed; will retry")

    def _profile_pending(self) -> None:
        """Fold the pending batches into one profile per model version (CPU only, outside the request)."""
        from ml.drift import merge_profiles, profile_records

        with self._lock:
            batches, self._batches, self._waiting = self._batches, [], 0
        for name, version, records, answers, at in batches:
            try:
                profile = profile_records(records, answers)
            except Exception:  # a record the model took but the profile cannot read: skip it, say so
                log.exception("profiling %d predictions of %s v%s failed; they are left out", len(records), name,
                              version)
                continue
            started, _, held = self._profiles.get((name, version), (at, at, []))
            held.append(profile)
            self._profiles[(name, version)] = (min(started, at), at, [merge_profiles(held)])

    def flush(self) -> int:
        """Write what is pending as one row per model version; returns how many predictions were written."""
        with self._flush_lock:
            self._profile_pending()
            if not self._profiles:
                return 0
            rows = [{"model_name": name[:200], "model_version": version[:100], "started_at": started,
                     "ended_at": ended, "predictions": held[0]["predictions"], "counts": held[0]["features"]}
                    for (name, version), (started, ended, held) in self._profiles.items()]
            from sqlalchemy import insert

            from include.db.models import MLDriftWindow
            from include.db.session import session_scope

            with session_scope() as session:  # on failure the profiles stay, for the next flush
                session.execute(insert(MLDriftWindow), rows)
            self._profiles.clear()
            return sum(r["predictions"] for r in rows)


_window: DriftWindow | None = None
_window_lock = threading.Lock()


def get_window() -> DriftWindow:
    """The process-wide drift window (one per serving process, like the prediction log)."""
    global _window
    if _window is None:
        with _window_lock:
            if _window is None:
                import atexit

                _window = DriftWindow()
                atexit.register(_flush_at_exit)
    return _window


def reset_window() -> None:
    """Write what is pending, then start over with a new window (tests switch settings and databases).

    Without this a window whose write failed (its test's database is gone) would
    keep its predictions and write them into whatever database comes next.
    """
    global _window
    with _window_lock:
        if _window is not None:
            try:
                _window.flush()
            except Exception as exc:  # noqa: BLE001 - the predictions go with the old window
                log.warning("drift window not written before reset (%s); its pending predictions are dropped", exc)
            _window.close()
        _window = None


def _flush_at_exit() -> None:
    if _window is not None:
        try:
            _window.flush()
        except Exception:  # pragma: no cover
            log.exception("flushing drift window at exit failed")
