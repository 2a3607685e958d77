"""Serve registered models in-process: severity (A/B) and calibrated helpfulness.

Why in-process rather than ``mlflow models serve``: the platform API already
parses, authenticates and validates the request; scoring in the same process
avoids a second HTTP hop and pyfunc's generic input conversion.  And each
version is compiled when it loads, so a prediction costs numpy/scipy
operations over the request's records rather than a pandas frame pushed
through the Pipeline.

One job per module:

* :mod:`ml.serving.cache` — :class:`ModelCache`: ``models:/<name>@<alias>``
  loaded, compiled and kept current by background alias checks.
* :mod:`ml.serving.prediction_log` — :class:`PredictionLog`: every answer
  written to ``ml_predictions`` in batches by a background thread.
* :mod:`ml.serving.service` — :class:`ServingService` (A/B, helpfulness),
  the process-wide :func:`get_service` and :func:`predict_issues`, the
  in-process API the ``code_review`` action calls.

The names below are what callers import from ``ml.serving``; mlflow, sklearn
and pandas are imported lazily, so importing the package stays cheap.
"""

from ml.serving.cache import LoadedModel, ModelCache, ModelUnavailable, compile_for_role
from ml.serving.prediction_log import PredictionLog
from ml.serving.service import ServingService, SeverityPrediction, get_service, predict_issues, reset_service

# The names tests reach the compile dispatch and the post-load heap freeze by.
from ml.serving.cache import _freeze_heap  # noqa: F401  isort: skip
from ml.serving.cache import compile_for_role as _compile  # noqa: F401  isort: skip

__all__ = [
    "LoadedModel",
    "ModelCache",
    "ModelUnavailable",
    "PredictionLog",
    "ServingService",
    "SeverityPrediction",
    "compile_for_role",
    "get_service",
    "predict_issues",
    "reset_service",
]
