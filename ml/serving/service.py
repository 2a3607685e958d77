"""The process-wide serving service: severity with A/B, plus calibrated helpfulness, over one model cache.

A/B (:mod:`ml.ab`): a sticky share of repositories is served by
``challenger``; if no challenger is registered, ``champion`` serves everyone.
Every answer is logged (:mod:`ml.serving.prediction_log`).  Models come from
:class:`ml.serving.cache.ModelCache`, compiled unless
``AUTOPR_SERVING_COMPILED=false``.

Public surface for other code (the ``code_review`` action calls it)::

    predict_issues(records, repository) -> [{severity, confidence, model_version, arm,
                                             probabilities, helpfulness, hidden}]

raises :class:`ml.serving.cache.ModelUnavailable` when no champion exists.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from ml import ab
from ml.serving.cache import LoadedModel, ModelCache, ModelUnavailable, compile_for_role
from ml.serving.prediction_log import PredictionLog

log = logging.getLogger(__name__)


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
        return compile_for_role("helpfulness" if name == self.settings.helpfulness_model_name else "severity", model)

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
            _observe_drift(model.name, model.version, records, out)
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


def _observe_drift(model_name: str, model_version: str, records: list[dict[str, Any]],
                   out: list[SeverityPrediction]) -> None:
    """Hand the answered predictions to the drift window (:mod:`ml.serving.drift_window`); never fails them.

    Here rather than in one caller, so every served prediction counts: the API's and the
    review actions' (``predict_issues``) alike.
    """
    try:
        from ml.serving.drift_window import get_window

        get_window().observe(model_name, model_version, records, [(p.severity, p.confidence) for p in out])
    except Exception:  # drift is a by-product: the answer is already computed
        log.exception("recording predictions for drift failed")


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
    """Drop the process-wide service and drift window (tests change settings; pending rows are written first)."""
    global _service
    from ml.serving.drift_window import reset_window

    with _service_lock:
        if _service is not None:
            try:
                _service.log.flush()
            except Exception:  # pragma: no cover
                log.exception("flushing prediction log failed")
        _service = None
    reset_window()


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
