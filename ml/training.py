"""Severity model candidates: each ONE sklearn Pipeline (featurisation + classifier), and how one is chosen.

Why this module exists: a model that needs a separate featuriser at serving
time is two things to version and keep in sync.  Every candidate here is a
``Pipeline([("features", ...), ("model", classifier)])`` that takes the raw
:data:`ml.features.ISSUE_COLUMNS` frame and predicts severity labels
(``include.enums.Severity`` values) with ``predict_proba`` — the contract
``autopr-severity`` models satisfy for serving (part 2).

Candidates (:data:`CANDIDATES`):

* ``plain`` — the baseline every other candidate must beat: word 1-2-gram
  TF-IDF of the issue text (``rule + message``) and a class-balanced logistic
  regression with library defaults otherwise.  It has nothing to tune, so
  nothing about it was chosen on data it is judged on.
* ``linear`` — multinomial logistic regression on TF-IDF word + char n-grams,
  optionally the security-vocabulary groups (``ml.severity_signals.KeywordGroups``),
  and the one-hot/numeric context, class-balanced.
* ``xgboost`` — gradient-boosted trees (``hist``) on the same features (text
  compressed by SVD) with class-balanced sample weights, wrapped so it speaks
  severity labels rather than XGBoost's integer classes.

How a model is chosen — three nested time-ordered layers, none of which sees
the layer outside it:

1. :func:`tune_candidate` picks a candidate's hyper-parameters and feature
   switches (:data:`PARAM_GRIDS`) by mean macro-F1 over *inner* time cuts of
   the rows it is given (``sklearn.model_selection.TimeSeriesSplit``);
2. :func:`train_candidates` gives each candidate the newest rows before the
   promotion holdout as a *validation* slice, and orders candidates by their
   macro-F1 there (ties go to ``plain``): the first one is the challenger;
3. the promotion holdout (``ml.evaluation.holdout_split``) only judges the
   challenger against the champion (``ml.registry.promote_challenger``).

Between 2 and 3, when asked (the retrain does, ``settings.ml_prior_shift_threshold``),
:func:`adjust_to_recent_priors` checks the chosen candidate for a moved label
mix on the validation slice alone and, when that helps there, moves its
probabilities to the recent class priors inside its Pipeline (``ml.priors``).

``bench/bench_severity.py`` runs the same functions inside each *outer*
training window and reports the outer test slice, so its numbers are never
the ones a choice was made on.  Training is deterministic (fixed seeds) so
the same dataset version gives the same model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.class_weight import compute_sample_weight
from threadpoolctl import threadpool_limits

from ml.evaluation import Metrics, evaluate_model, evaluate_predictions, newest_split, ordered_labels, time_order
from ml.features import ISSUE_COLUMNS, DeriveFeatures, build_featurizer

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


def plain_pipeline() -> Pipeline:
    """The plain baseline: word n-gram TF-IDF of the issue text + class-balanced logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    text = ColumnTransformer([("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                                        dtype=np.float32), "text")])
    return Pipeline([
        ("features", Pipeline([("derive", DeriveFeatures()), ("columns", text)])),
        ("model", LogisticRegression(class_weight="balanced", max_iter=1000)),
    ])


def linear_pipeline(C: float = 0.3, keywords: bool = True) -> Pipeline:
    from sklearn.linear_model import LogisticRegression

    return Pipeline([
        ("features", build_featurizer(keywords=keywords)),
        ("model", LogisticRegression(C=C, class_weight="balanced", max_iter=300, tol=1e-3)),
    ])


#: Shallower trees, more of them and fewer columns per tree than the class defaults
#: (steadier across seeds at about the same CPU time); depth and the keyword
#: groups are tuned per training window (:data:`PARAM_GRIDS`).
XGBOOST_PARAMS: dict[str, Any] = {"max_depth": 3, "n_estimators": 300, "colsample_bytree": 0.3}


def xgboost_pipeline(keywords: bool = True, **params: Any) -> Pipeline:
    return Pipeline([
        ("features", build_featurizer(max_text_features=20000, text_components=128, keywords=keywords)),
        ("model", SeverityXGBClassifier(**{**XGBOOST_PARAMS, **params})),
    ])


#: name → (factory taking the tuned params as keywords, whether fit needs balanced sample weights passed explicitly)
CANDIDATES: dict[str, tuple[Callable[..., Pipeline], bool]] = {
    "plain": (plain_pipeline, False),
    "linear": (linear_pipeline, False),
    "xgboost": (xgboost_pipeline, True),
}
#: The candidate that is always trained and that wins ties: a tuned model ships only when it beats it.
BASELINE = "plain"

#: name → the settings :func:`tune_candidate` chooses among (the factory's defaults first: they win ties).
#: Small on purpose: every setting costs one fit per inner cut.
PARAM_GRIDS: dict[str, list[dict[str, Any]]] = {
    "plain": [{}],
    "linear": [{"C": C, "keywords": keywords} for keywords in (True, False) for C in (0.3, 0.1, 1.0)],
    "xgboost": [{"max_depth": depth, "keywords": keywords} for keywords in (True, False) for depth in (3, 5)],
}


def fit_candidate(name: str, train: pd.DataFrame, label_column: str = "label",
                  params: dict[str, Any] | None = None) -> Pipeline:
    """Fit one candidate (with ``params`` for its factory, default: the factory's defaults) on ``train``."""
    factory, weighted = CANDIDATES[name]
    pipeline = factory(**(params or {}))
    X = train.loc[:, list(ISSUE_COLUMNS)]
    y = train[label_column].to_numpy(dtype=object)
    fit_params = {"model__sample_weight": compute_sample_weight("balanced", y)} if weighted else {}
    # One BLAS/OpenMP thread: Airflow workers run several tasks side by side, and
    # oversubscribed spinning threads made fits ~10x slower on a shared 2-core box.
    with threadpool_limits(limits=1):
        pipeline.fit(X, y, **fit_params)
    return pipeline


@dataclass
class Tuning:
    """What :func:`tune_candidate` chose and why: the params and every setting's mean inner macro-F1."""

    params: dict[str, Any]
    scores: list[tuple[dict[str, Any], float]]
    cuts: int


def inner_cuts(frame: pd.DataFrame, n_cuts: int, test_percent: float) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """Time-ordered (older, next) pairs inside ``frame``: ``TimeSeriesSplit`` with test slices of ``test_percent`` %.

    A cut whose older part has fewer than two classes is left out (nothing to fit).
    """
    from sklearn.model_selection import TimeSeriesSplit

    ordered = time_order(frame)
    test_size = max(1, round(len(ordered) * test_percent / 100))
    if len(ordered) <= test_size * n_cuts:
        return []
    cuts = []
    for fit_idx, test_idx in TimeSeriesSplit(n_splits=n_cuts, test_size=test_size).split(ordered):
        older, newer = ordered.iloc[fit_idx], ordered.iloc[test_idx]
        if older["label"].nunique() >= 2:
            cuts.append((older, newer))
    return cuts


def tune_candidate(name: str, frame: pd.DataFrame, *, n_cuts: int = 2, test_percent: float = 15,
                   max_rows: int | None = 4000) -> Tuning:
    """Choose ``name``'s params from :data:`PARAM_GRIDS` by mean macro-F1 over inner time cuts of ``frame``.

    Only ``frame`` is looked at (the caller's training window), so whatever is
    scored later on newer rows was not part of the choice.  ``max_rows`` (the
    newest rows) bounds the cost, which is one fit per setting and cut.  With a
    single setting, or no usable cut, the first setting (the defaults) is kept.
    """
    grid = PARAM_GRIDS.get(name, [{}])
    if len(grid) == 1:
        return Tuning(grid[0], [], 0)
    ordered = time_order(frame)
    if max_rows is not None and len(ordered) > max_rows:
        ordered = ordered.iloc[-max_rows:]
    cuts = inner_cuts(ordered, n_cuts, test_percent)
    if not cuts:
        return Tuning(grid[0], [], 0)
    scores = []
    for params in grid:
        f1s = [evaluate_model(fit_candidate(name, older, params=params), newer).macro_f1 for older, newer in cuts]
        scores.append((params, float(np.mean(f1s))))
    best = max(range(len(scores)), key=lambda i: (scores[i][1], -i))  # ties: the earlier setting
    log.info("tuned %s on %d inner cuts of %d rows: %s (mean macro-F1 %.3f)", name, len(cuts), len(ordered),
             scores[best][0], scores[best][1])
    return Tuning(scores[best][0], scores, len(cuts))


@dataclass
class TrainedCandidate:
    """One fitted candidate: ``metrics`` on the promotion holdout, ``validation`` on the slice it was chosen on."""

    name: str
    pipeline: Pipeline
    metrics: Metrics
    seconds: float
    validation: Metrics | None = None
    params: dict[str, Any] = field(default_factory=dict)
    #: the validation-fit model's probabilities on the validation slice (rows in time order, columns ``classes_``)
    validation_proba: np.ndarray | None = field(default=None, repr=False)
    #: the columns of ``validation_proba`` (the validation-fit model's classes: it may have seen fewer)
    validation_classes: np.ndarray | None = field(default=None, repr=False)
    #: the class-prior check (``ml.priors.check_priors``) when one was made for this candidate
    priors: Any = None


def selection_key(candidate: TrainedCandidate) -> tuple[float, float, int]:
    """Best first: validation macro-F1, then validation accuracy, then the baseline before a tuned candidate."""
    scored = candidate.validation or candidate.metrics
    return (-scored.macro_f1, -scored.accuracy, 0 if candidate.name == BASELINE else 1)


def train_candidates(train: pd.DataFrame, holdout: pd.DataFrame | None, names: list[str] | None = None, *,
                     validation_percent: float = 20, tune: bool = True, max_tune_rows: int | None = 4000,
                     prior_shift_threshold: float | None = None) -> list[TrainedCandidate]:
    """Fit every candidate on ``train``; best on the time-ordered validation slice first.

    The validation slice is the newest ``validation_percent`` % of ``train``
    (:func:`ml.evaluation.newest_split`).  Per candidate: params tuned on the
    rows before the slice (:func:`tune_candidate`), a fit on those rows scored
    on the slice (the choice), then a refit on all of ``train`` — the model that
    is logged and may be registered — scored on ``holdout`` (reported, never a
    choice; ``None`` skips it).  :data:`BASELINE` is always among the names.
    With ``prior_shift_threshold``, the chosen candidate is then checked for a
    moved label mix (:func:`adjust_to_recent_priors`).
    """
    names = list(names or CANDIDATES)
    if BASELINE not in names:
        names.insert(0, BASELINE)
    before, validation = newest_split(train, validation_percent)
    if before["label"].nunique() < 2:
        raise ValueError(f"need ≥2 severity classes before the validation slice, got "
                         f"{before['label'].value_counts().to_dict()}")
    results = []
    for name in names:
        started = time.perf_counter()
        params = tune_candidate(name, before, max_rows=max_tune_rows).params if tune else {}
        chooser = fit_candidate(name, before, params=params)
        validation_proba = chooser.predict_proba(validation.loc[:, list(ISSUE_COLUMNS)])
        validation_metrics = evaluate_predictions(validation["label"].to_numpy(dtype=object),
                                                  chooser.classes_[np.argmax(validation_proba, axis=1)])
        pipeline = fit_candidate(name, train, params=params)
        seconds = time.perf_counter() - started
        metrics = evaluate_model(pipeline, holdout) if holdout is not None else validation_metrics
        log.info("candidate %s %s: validation macro-F1 %.3f, holdout macro-F1 %.3f (%d train rows, %.1fs)", name,
                 params, validation_metrics.macro_f1, metrics.macro_f1, len(train), seconds)
        results.append(TrainedCandidate(name, pipeline, metrics, seconds, validation_metrics, params,
                                        validation_proba, np.asarray(chooser.classes_, dtype=object)))
    results.sort(key=selection_key)
    if prior_shift_threshold is not None:
        adjust_to_recent_priors(results[0], before, validation, train, holdout, threshold=prior_shift_threshold)
    return results


def adjust_to_recent_priors(candidate: TrainedCandidate, before: pd.DataFrame, validation: pd.DataFrame,
                            train: pd.DataFrame, holdout: pd.DataFrame | None, *, threshold: float) -> None:
    """Check the chosen candidate against the validation slice's label mix; wrap its model when that helps.

    ``ml.priors.check_priors`` decides on the validation slice only (the
    model fit on ``before``, its probabilities kept from the choice); when it
    applies, the refit pipeline's model step becomes ``ml.priors.PriorAdjusted``
    with the recent priors and the holdout metrics are those of the adjusted
    pipeline (the one that is logged, registered and judged for promotion).
    """
    from ml.priors import check_priors, with_priors

    check = check_priors(candidate.pipeline.classes_, before["label"].to_numpy(dtype=object),
                         validation["label"].to_numpy(dtype=object), candidate.validation_proba,
                         candidate.validation_classes, shipped_labels=train["label"].to_numpy(dtype=object), threshold=threshold)
    candidate.priors = check
    log.info("class priors of %s: %s", candidate.name, check.reason)
    if check.applied:
        candidate.pipeline = with_priors(candidate.pipeline, check.weights)
        if holdout is not None:
            candidate.metrics = evaluate_model(candidate.pipeline, holdout)


def subsample_newest(frame: pd.DataFrame, max_rows: int | None) -> pd.DataFrame:
    """Keep the newest ``max_rows`` rows (recent feedback matters most; bounds training time)."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    return time_order(frame).iloc[-max_rows:].reset_index(drop=True)
