"""Severity model candidates: each ONE sklearn Pipeline (featurisation + classifier).

Why this module exists: a model that needs a separate featuriser at serving
time is two things to version and keep in sync.  Every candidate here is a
``Pipeline([("features", build_featurizer()), ("model", classifier)])`` that
takes the raw :data:`ml.features.ISSUE_COLUMNS` frame and predicts severity
labels (``include.enums.Severity`` values) with ``predict_proba`` — the
contract ``autopr-severity`` models satisfy for serving (part 2).

Candidates:

* ``linear`` — multinomial logistic regression on TF-IDF word + char n-grams,
  security-vocabulary groups (``ml.severity_signals.KeywordGroups``) and the
  one-hot/numeric context, class-balanced, C=0.3 (stronger regularisation
  than the default: the vocabulary is large for ~1-2k labelled rows).  Both
  choices were judged by mean macro-F1 over all time-ordered advisory cuts
  (bench/bench_severity.py), not on one split.
* ``xgboost`` — gradient-boosted trees (``hist``, depth 3) on the same
  features (text compressed by SVD) with class-balanced sample weights,
  wrapped so it speaks severity labels rather than XGBoost's integer
  classes.

Training is deterministic (fixed seeds) so the same dataset version gives the
same model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.class_weight import compute_sample_weight
from threadpoolctl import threadpool_limits

from ml.evaluation import Metrics, evaluate_model, ordered_labels
from ml.features import ISSUE_COLUMNS, build_featurizer

log = logging.getLogger(__name__)


class SeverityXGBClassifier(ClassifierMixin, BaseEstimator):
    """XGBoost that takes and returns severity labels (strings), ``classes_`` in severity order."""

    def __init__(self, n_estimators: int = 200, max_depth: int = 4, learning_rate: float = 0.1,
                 subsample: float = 0.9, colsample_bytree: float = 0.5, min_child_weight: float = 1.0,
                 reg_lambda: float = 1.0, n_jobs: int = 1, random_state: int = 0):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SeverityXGBClassifier:
        from xgboost import XGBClassifier

        y = np.asarray(y, dtype=object)
        self.classes_ = np.asarray(ordered_labels(y), dtype=object)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two severity classes to train, got {list(self.classes_)}")
        index = {label: i for i, label in enumerate(self.classes_)}
        encoded = np.fromiter((index[v] for v in y), dtype=np.int64, count=len(y))
        self.booster_ = XGBClassifier(
            n_estimators=self.n_estimators, max_depth=self.max_depth, learning_rate=self.learning_rate,
            subsample=self.subsample, colsample_bytree=self.colsample_bytree,
            min_child_weight=self.min_child_weight, reg_lambda=self.reg_lambda, n_jobs=self.n_jobs,
            random_state=self.random_state, tree_method="hist", verbosity=0,
        )
        self.booster_.fit(X, encoded, sample_weight=sample_weight)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.booster_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def linear_pipeline(C: float = 0.3) -> Pipeline:
    from sklearn.linear_model import LogisticRegression

    return Pipeline([
        ("features", build_featurizer(keywords=True)),
        ("model", LogisticRegression(C=C, class_weight="balanced", max_iter=300, tol=1e-3)),
    ])


#: Shallower trees, more of them and fewer columns per tree than the class defaults:
#: on the advisory cuts this was steadier across seeds (mean macro-F1 over 4 cuts x
#: 3 seeds 0.378 vs 0.367) at about the same CPU time.
XGBOOST_PARAMS: dict[str, Any] = {"max_depth": 3, "n_estimators": 300, "colsample_bytree": 0.3}


def xgboost_pipeline(**params: Any) -> Pipeline:
    return Pipeline([
        ("features", build_featurizer(max_text_features=20000, text_components=128, keywords=True)),
        ("model", SeverityXGBClassifier(**{**XGBOOST_PARAMS, **params})),
    ])


#: name → (factory, whether fit needs balanced sample weights passed explicitly)
CANDIDATES: dict[str, tuple[Callable[[], Pipeline], bool]] = {
    "linear": (linear_pipeline, False),
    "xgboost": (xgboost_pipeline, True),
}


def fit_candidate(name: str, train: pd.DataFrame, label_column: str = "label") -> Pipeline:
    """Fit one candidate on the labelled ``train`` frame."""
    factory, weighted = CANDIDATES[name]
    pipeline = factory()
    X = train.loc[:, list(ISSUE_COLUMNS)]
    y = train[label_column].to_numpy(dtype=object)
    fit_params = {"model__sample_weight": compute_sample_weight("balanced", y)} if weighted else {}
    # One BLAS/OpenMP thread: Airflow workers run several tasks side by side, and
    # oversubscribed spinning threads made fits ~10x slower on a shared 2-core box.
    with threadpool_limits(limits=1):
        pipeline.fit(X, y, **fit_params)
    return pipeline


@dataclass
class TrainedCandidate:
    name: str
    pipeline: Pipeline
    metrics: Metrics
    seconds: float


def train_candidates(train: pd.DataFrame, holdout: pd.DataFrame, names: list[str] | None = None
                     ) -> list[TrainedCandidate]:
    """Fit every candidate on ``train`` and score it on ``holdout``; best (macro-F1) first."""
    results = []
    for name in names or list(CANDIDATES):
        started = time.perf_counter()
        pipeline = fit_candidate(name, train)
        seconds = time.perf_counter() - started
        metrics = evaluate_model(pipeline, holdout)
        log.info("candidate %s: macro-F1 %.3f accuracy %.3f (%d train rows, %.1fs)", name, metrics.macro_f1,
                 metrics.accuracy, len(train), seconds)
        results.append(TrainedCandidate(name, pipeline, metrics, seconds))
    return sorted(results, key=lambda c: (-c.metrics.macro_f1, -c.metrics.accuracy))


def subsample_newest(frame: pd.DataFrame, max_rows: int | None) -> pd.DataFrame:
    """Keep the newest ``max_rows`` rows (recent feedback matters most; bounds training time)."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    return frame.sort_values("created_at", kind="stable").iloc[-max_rows:].reset_index(drop=True)
