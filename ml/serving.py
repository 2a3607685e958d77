"""Serve registered models in-process: severity (A/B) and calibrated helpfulness.

Why in-process rather than ``mlflow models serve``: the platform API already
parses, authenticates and validates the request; scoring in the same process
avoids a second HTTP hop and pyfunc's generic input conversion.  And when a
version loads it is compiled (:mod:`ml.fast_predict` for severity,
:mod:`ml.fast_helpfulness` for calibrated helpfulness): the fitted Pipeline's
steps become numpy/scipy operations over the request's records — no pandas
frame, no ColumnTransformer plumbing per request — checked against the
Pipeline's own ``predict_proba`` before it serves, so a single prediction
costs well under a millisecond of model time instead of ~20 ms.  A model the
compiler does not understand is served by its plain ``predict_proba``
(``AUTOPR_SERVING_COMPILED=false`` forces that everywhere).

Moving parts:

* :class:`ModelCache` — loads ``models:/<name>@<alias>`` (resolved with
  ``MlflowClient.get_model_version_by_alias``, loaded with the sklearn
  flavour) and keeps it in memory.  At most every ``model_refresh_seconds`` a
  request notices its entry is due and starts a *background* alias check; the
  request itself never waits on the registry.  When the alias has moved, the
  new version is loaded in that background thread and swapped in atomically,
  so a promotion reaches running API servers without a restart.  When the
  alias is gone, the entry becomes "unavailable" (503), never a stale guess.
* A/B (:mod:`ml.ab`) — a sticky share of repositories is served by
  ``challenger``; if no challenger is registered, ``champion`` serves everyone.
* :class:`PredictionLog` — every answer is logged (model version, arm,
  repository, optional issue id) to ``ml_predictions`` by a background writer
  in batches, so logging costs the hot path a list append.

Public surface for other code (the ``code_review`` action calls it)::

    predict_issues(records, repository) -> [{severity, confidence, model_version, arm,
                                             probabilities, helpfulness, hidden}]

raises :class:`ModelUnavailable` when no champion exists.  mlflow, sklearn
and pandas are imported lazily so importing this module stays cheap.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from ml import ab

log = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """No usable model for ``name@alias``; ``reason`` says why (safe to show to API clients)."""

    def __init__(self, name: str, alias: str, reason: str):
        super().__init__(f"model {name}@{alias} is unavailable: {reason}")
        self.name, self.alias, self.reason = name, alias, reason


@dataclass(frozen=True)
class LoadedModel:
    name: str
    alias: str
    version: str
    model: Any  # the sklearn estimator/Pipeline
    classes: tuple[str, ...]
    run_id: str | None = None
    loaded_at: float = field(default_factory=time.time)
    #: the model compiled to numpy/scipy (:mod:`ml.fast_predict`, :mod:`ml.fast_helpfulness`): its
    #: ``predict_proba(records)`` equals the model's on the frame of those records; None when it has none
    fast: Any = None


@dataclass
class _Entry:
    model: LoadedModel | None
    error: str | None
    checked_at: float
    refreshing: bool = False


class ModelCache:
    """Alias → loaded model, checked against the registry at most every ``refresh_seconds``."""

    def __init__(self, tracking_uri: str, refresh_seconds: float = 10.0,
                 compile: Callable[[str, Any], Any] | None = None, freeze_gc: bool = False):
        self.tracking_uri = tracking_uri
        self.refresh_seconds = refresh_seconds
        self.compile = compile  # (model name, loaded model) -> compiled inference path or None
        self.freeze_gc = freeze_gc  # freeze the heap after each load (see _freeze_heap)
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self._client: Any = None

    # -- registry access (never on the hot path once warm) -------------------------------------
    def _mlflow_client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def _lock(self, key: tuple[str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _load_version(self, name: str, alias: str, mv: Any) -> LoadedModel:
        import tempfile

        import mlflow.artifacts
        import mlflow.sklearn

        uri = self._mlflow_client().get_model_version_download_uri(name, mv.version)
        # Download through this cache's tracking URI, not MLflow's process-global one: an
        # ``mlflow-artifacts:/`` location is resolved against the server it names, and the
        # serving process may never have set (or may share) the global URI.
        with tempfile.TemporaryDirectory(prefix="autopr-model-") as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp,
                                                        tracking_uri=self.tracking_uri)
            model = mlflow.sklearn.load_model(local)
        if not hasattr(model, "predict_proba"):
            raise TypeError(f"{name} v{mv.version} has no predict_proba")
        classes = tuple(str(c) for c in getattr(model, "classes_", ()))
        return LoadedModel(name, alias, str(mv.version), model, classes, getattr(mv, "run_id", None),
                           fast=self.compile(name, model) if self.compile else None)

    def check(self, name: str, alias: str) -> _Entry:
        """Resolve the alias now and (re)load if it moved; returns the new entry."""
        from mlflow.exceptions import MlflowException

        key = (name, alias)
        current = self._entries.get(key)
        now = time.monotonic()
        try:
            mv = self._mlflow_client().get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            code = getattr(exc, "error_code", "")
            if code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                entry = _Entry(None, f"no model version of {name!r} has the alias {alias!r}", now)
            else:  # registry trouble: keep serving what we have, retry after the interval
                log.warning("alias check %s@%s failed: %s", name, alias, exc)
                entry = _Entry(current.model if current else None, f"model registry error: {code or exc}", now)
            self._entries[key] = entry
            return entry
        except Exception as exc:  # noqa: BLE001 - registry unreachable (network, locked sqlite, ...)
            log.warning("alias check %s@%s failed: %s", name, alias, exc)
            entry = _Entry(current.model if current else None, f"model registry unreachable: {type(exc).__name__}", now)
            self._entries[key] = entry
            return entry
        if current is not None and current.model is not None and current.model.version == str(mv.version):
            entry = _Entry(current.model, None, now)
        else:
            try:
                loaded = self._load_version(name, alias, mv)
                log.info("serving %s@%s = version %s", name, alias, loaded.version)
                entry = _Entry(loaded, None, now)
            except Exception as exc:
                log.exception("loading %s v%s failed", name, mv.version)
                entry = _Entry(None, f"version {mv.version} could not be loaded: {type(exc).__name__}: {exc}", now)
            self._entries[key] = entry
            if self.freeze_gc and entry.model is not None:
                _freeze_heap()  # after the swap: the replaced version is no longer referenced from here
            return entry
        self._entries[key] = entry
        return entry

    def _refresh_in_background(self, key: tuple[str, str], entry: _Entry) -> None:
        entry.refreshing = True

        def run() -> None:
            try:
                self.check(*key)
            finally:
                entry.refreshing = False

        threading.Thread(target=run, name=f"model-refresh-{key[0]}@{key[1]}", daemon=True).start()

    # -- hot path ----------------------------------------------------------------------------
    def get(self, name: str, alias: str) -> LoadedModel:
        """The cached model for ``name@alias``; raises :class:`ModelUnavailable`."""
        key = (name, alias)
        entry = self._entries.get(key)
        if entry is None:  # first use in this process: load synchronously, one thread per key
            with self._lock(key):
                entry = self._entries.get(key) or self.check(name, alias)
        elif not entry.refreshing and time.monotonic() - entry.checked_at >= self.refresh_seconds:
            self._refresh_in_background(key, entry)
        if entry.model is None:
            raise ModelUnavailable(name, alias, entry.error or "not loaded")
        return entry.model

    def peek(self, name: str, alias: str) -> LoadedModel | None:
        """What is loaded now, without touching the registry."""
        entry = self._entries.get((name, alias))
        return entry.model if entry else None

    def clear(self) -> None:
        self._entries.clear()


def _compile(role: str, model: Any) -> Any:
    """The model's compiled inference path, built (and checked against the model) once per loaded version.

    ``role`` says which input contract the model serves: ``severity``
    (:func:`ml.features.issues_frame`, compiled by :mod:`ml.fast_predict`) or
    ``helpfulness`` (:func:`ml.calibration.helpfulness_frame`, compiled by
    :mod:`ml.fast_helpfulness`).  Models of any other shape return None and are
    served by their plain ``predict_proba``.
    """
    started = time.perf_counter()
    if role == "helpfulness":
        from ml.fast_helpfulness import compile_helpfulness_model as compile_fn
    else:
        from ml.fast_predict import compile_model as compile_fn
    fast = compile_fn(model)
    if fast is not None:
        fast.predict_proba(_WARMUP)  # first-call costs (imports, memo) are paid here, not by a request
        log.info("compiled %s inference path ready in %.0f ms", role, (time.perf_counter() - started) * 1000)
    return fast


def _freeze_heap() -> None:
    """One full collection, then ``gc.freeze()``: later full collections walk only objects newer than this.

    Why: the serving process tracks ~280,000 objects once mlflow, sklearn and
    pandas are imported and a model is loaded (more inside Airflow's API
    server).  Every 5,000-issue batch allocates enough surviving containers
    (records, answers, log rows) to trigger a full collection every few
    batches, and each walked the whole heap: 150-190 ms measured on this
    machine, a third of a batch's time, and a spike for any request waiting
    meanwhile.  Frozen objects are still freed by reference counting; a model
    that is replaced later is reclaimed because every load first unfreezes
    (``gc.unfreeze``) and collects before freezing again.
    """
    import gc

    from include.gcfreeze import full_freeze

    elapsed = full_freeze()
    log.info("froze %d objects out of the cyclic GC's reach in %.0f ms", gc.get_freeze_count(), elapsed * 1000)


_WARMUP = [{"message": "warm up", "rule": "W0", "analyzer": "warmup", "file_path": "warm/up.py", "repository": "w/u",
            "severity": "low"}]


# ---------------------------------------------------------------------------------------------
# Prediction log
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Process-wide service
# ---------------------------------------------------------------------------------------------
@dataclass
class SeverityPrediction:
    severity: str
    confidence: float
    probabilities: dict[str, float]
    model_version: str
    arm: str
    helpfulness: float | None = None
    helpfulness_model_version: str | None = None
    hidden: bool = False

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class ServingService:
    """Severity with A/B, plus calibrated helpfulness, over one :class:`ModelCache`."""

    def __init__(self, settings: Any = None):
        from include.settings import get_settings

        self.settings = settings or get_settings()
        self.cache = ModelCache(self.settings.mlflow_tracking_uri, self.settings.model_refresh_seconds,
                                compile=self._compile if self.settings.serving_compiled else None,
                                freeze_gc=self.settings.serving_gc_freeze)
        self.log = PredictionLog()

    def _compile(self, name: str, model: Any) -> Any:
        return _compile("helpfulness" if name == self.settings.helpfulness_model_name else "severity", model)

    @property
    def severity_model(self) -> str:
        return self.settings.severity_model_name

    def arm_for(self, repository: str) -> str:
        return ab.arm_for(repository, self.settings.ab_challenger_share, salt=self.severity_model)

    def model_for(self, repository: str) -> LoadedModel:
        """The severity model serving ``repository``: its arm's alias, champion if no challenger exists."""
        arm = self.arm_for(repository)
        if arm == ab.CHALLENGER:
            try:
                return self.cache.get(self.severity_model, ab.CHALLENGER)
            except ModelUnavailable:
                pass  # no challenger registered: everyone gets the champion
        return self.cache.get(self.severity_model, ab.CHAMPION)

    def helpfulness_model(self) -> LoadedModel | None:
        try:
            return self.cache.get(self.settings.helpfulness_model_name, ab.CHAMPION)
        except ModelUnavailable:
            return None

    def predict(self, records: Sequence[Mapping[str, Any]], repository: str, *, project_id: int | None = None,
                log_predictions: bool = True) -> list[SeverityPrediction]:
        """Severity (+ calibrated helpfulness) for issue dicts of one repository."""
        import numpy as np

        model = self.model_for(repository)
        records = [{**r, "repository": repository} for r in records]
        if model.fast is not None:
            proba = model.fast.predict_proba(records)
        else:
            from ml.features import issues_frame

            proba = model.model.predict_proba(issues_frame(records))
        best = proba.argmax(axis=1)
        classes = model.classes
        conf = proba[np.arange(len(best)), best]
        severities = [classes[i] for i in best]
        helpful = self._helpfulness(records, severities)
        threshold = self.settings.confidence_threshold
        # round and convert once, vectorised: per-element float()/round() dominates big batches
        proba_rows = np.round(proba, 6).tolist()
        conf_list = np.round(conf, 6).tolist()
        help_list = None if helpful is None else np.round(helpful[1], 6).tolist()
        help_version = None if helpful is None else helpful[0]
        out = []
        for i, sev in enumerate(severities):
            h = None if help_list is None else help_list[i]
            out.append(SeverityPrediction(
                severity=sev, confidence=conf_list[i], probabilities=dict(zip(classes, proba_rows[i])),
                model_version=model.version, arm=model.alias, helpfulness=h,
                helpfulness_model_version=help_version, hidden=h is not None and h < threshold,
            ))
        if log_predictions:
            now = _now()
            self.log.add([{
                "project_id": project_id, "repository": repository[:300],
                "issue_id": _issue_id(rec), "model_name": model.name, "model_version": model.version,
                "arm": model.alias, "predicted_severity": p.severity, "confidence": p.confidence,
                "created_at": now,
            } for rec, p in zip(records, out)])
        return out

    def _helpfulness(self, records: list[dict[str, Any]], severities: list[str]) -> tuple[str, Any] | None:
        model = self.helpfulness_model()
        if model is None:
            return None
        rows = [{**r, "severity": r.get("severity") or sev} for r, sev in zip(records, severities)]
        if model.fast is not None:
            proba = model.fast.predict_proba(rows)
        else:
            from ml.calibration import helpfulness_frame

            proba = model.model.predict_proba(helpfulness_frame(rows))
        positive = list(model.classes).index("1") if "1" in model.classes else proba.shape[1] - 1
        return model.version, proba[:, positive]

    def status(self) -> dict[str, Any]:
        """What each alias serves now (loading it if this process has not yet)."""
        out: dict[str, Any] = {"ab_challenger_share": self.settings.ab_challenger_share, "models": []}
        for name in (self.severity_model, self.settings.helpfulness_model_name):
            for alias in ab.ARMS:
                try:
                    m = self.cache.get(name, alias)
                    out["models"].append({"name": name, "alias": alias, "version": m.version, "available": True,
                                          "run_id": m.run_id, "classes": list(m.classes),
                                          "compiled": m.fast is not None})
                except ModelUnavailable as exc:
                    out["models"].append({"name": name, "alias": alias, "version": None, "available": False,
                                          "reason": exc.reason})
        return out


def _issue_id(record: Mapping[str, Any]) -> int | None:
    value = record.get("issue_id")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _now() -> Any:
    from datetime import datetime

    return datetime.now(UTC)


_service: ServingService | None = None
_service_lock = threading.Lock()


def get_service() -> ServingService:
    """The process-wide service (created on first use from the current settings)."""
    global _service
    if _service is None:
        with _service_lock:
            if _service is None:
                _service = ServingService()
                atexit.register(_flush_at_exit)
    return _service


def reset_service() -> None:
    """Drop the process-wide service (tests change settings; pending log rows are flushed first)."""
    global _service
    with _service_lock:
        if _service is not None:
            try:
                _service.log.flush()
            except Exception:  # pragma: no cover
                log.exception("flushing prediction log failed")
        _service = None


def _flush_at_exit() -> None:
    if _service is not None:
        try:
            _service.log.flush()
        except Exception:  # pragma: no cover
            log.exception("flushing prediction log at exit failed")


def predict_issues(records: list[dict[str, Any]], repository: str, *, project_id: int | None = None
                   ) -> list[dict[str, Any]]:
    """Severity and calibrated confidence for issue dicts of ``repository`` (the in-process API).

    Each result: ``severity`` (a Severity value), ``confidence`` (probability of
    that severity), ``probabilities``, ``model_version``, ``arm``
    (champion/challenger), ``helpfulness`` (calibrated P(reviewer finds it
    helpful), None without a helpfulness model) and ``hidden`` (helpfulness below
    ``confidence_threshold``).  Raises :class:`ModelUnavailable` when no champion
    is registered and :class:`ml.features.FeatureInputError` for a bad record.
    """
    return [p.as_dict() for p in get_service().predict(records, repository, project_id=project_id)]
