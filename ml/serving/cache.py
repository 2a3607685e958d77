"""The model cache: ``models:/<name>@<alias>`` loaded once, compiled, and kept current in the background.

:class:`ModelCache` resolves an alias with
``MlflowClient.get_model_version_by_alias``, loads the version with the
sklearn flavour and keeps it in memory.  At most every ``refresh_seconds`` a
request notices its entry is due and starts a *background* alias check; the
request itself never waits on the registry.  When the alias has moved, the new
version is loaded in that background thread and swapped in atomically, so a
promotion reaches running API servers without a restart.  When the alias is
gone, the entry becomes "unavailable" (503), never a stale guess.

Each loaded version is compiled once (:func:`compile_for_role`): the fitted
Pipeline's steps become numpy/scipy operations over the request's records,
checked against the Pipeline's own ``predict_proba`` before it serves.  A
model the compiler does not understand is served by its plain ``predict_proba``.
mlflow is imported lazily so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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


def compile_for_role(role: str, model: Any) -> Any:
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
    """A full freeze (:func:`include.gcfreeze.full_freeze`) after a load.

    Why: once mlflow, sklearn and pandas are imported and a model is loaded,
    every full collection walks all of it, a stall for any request waiting
    meanwhile; frozen, later collections walk only newer objects.  A version
    replaced later is still reclaimed: each full freeze unfreezes and collects first.
    """
    from include.gcfreeze import full_freeze

    log.info("froze the heap out of the cyclic GC's reach in %.0f ms", full_freeze() * 1000)


_WARMUP = [{"message": "warm up", "rule": "W0", "analyzer": "warmup", "file_path": "warm/up.py", "repository": "w/u",
            "severity": "low"}]
