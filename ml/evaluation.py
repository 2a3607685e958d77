"""Metrics and plots for severity models, and the frozen holdout they are judged on.

Why this module exists: training, promotion and the benchmark must compute
the same numbers the same way — accuracy, macro-F1 over the classes present
in the holdout, per-class F1, a bootstrap interval — and the promotion rule
must compare two models on literally the same rows (:func:`holdout_split`,
:func:`holdout_hash`).

Two ways to pick the promotion holdout (``settings.ml_holdout_strategy``):

* ``time`` (default) — the newest share of the labelled rows by ``created_at``
  (:func:`newest_split`).  A model is judged on time it has not seen, which is
  what it meets in production; near-duplicates of older rows cannot flatter it.
* ``hash`` — a stable hash of each issue (:func:`in_holdout`).  Membership
  never changes across dataset versions, but old and new rows are mixed, so it
  rewards what near-duplicates share and says little about next month.

The same :func:`newest_split` also cuts the time-ordered validation slice the
challenger is chosen on (``ml.training.train_candidates``), so "newer than"
means one thing everywhere.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from include.enums import Severity
from ml.features import ISSUE_COLUMNS, SEVERITY_LABELS


@dataclass
class Metrics:
    accuracy: float
    macro_f1: float
    per_class_f1: dict[str, float]
    support: dict[str, int]
    rows: int
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)

    def as_mlflow(self, prefix: str = "") -> dict[str, float]:
        """Flat metric dict for ``mlflow.log_metrics`` (``f1_<class>`` per class)."""
        out = {f"{prefix}accuracy": self.accuracy, f"{prefix}macro_f1": self.macro_f1, f"{prefix}rows": self.rows}
        out.update({f"{prefix}f1_{label}": value for label, value in self.per_class_f1.items()})
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ordered_labels(values: Any) -> list[str]:
    """The severity labels among ``values``, weakest first (the platform's ordinal order)."""
    present = {str(v) for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))}
    return [label for label in SEVERITY_LABELS if label in present]


def evaluate_predictions(y_true: Any, y_pred: Any, labels: list[str] | None = None) -> Metrics:
    """Accuracy, macro-F1 and per-class F1 over ``labels`` (default: classes present in ``y_true``)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    labels = labels or ordered_labels(y_true)
    per_class = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return Metrics(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(np.mean(per_class)) if len(labels) else 0.0,
        per_class_f1={label: float(score) for label, score in zip(labels, per_class)},
        support={label: int((y_true == label).sum()) for label in labels},
        rows=len(y_true),
        labels=list(labels),
        confusion=confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    )


def macro_f1_interval(y_true: Any, y_pred: Any, labels: list[str] | None = None, *, baseline: Any = None,
                      n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Bootstrap percentile interval of macro-F1 — or, with ``baseline`` predictions, of macro-F1(pred) − macro-F1(baseline).

    Why: test slices here are a few hundred rows with a handful of the rarest
    class, so a point macro-F1 alone invites reading noise as a difference.
    Rows are resampled with replacement, truth and predictions kept together
    (paired), by ``scipy.stats.bootstrap``; macro-F1 is computed from a
    confusion count with the definition of :func:`evaluate_predictions` (the
    mean F1 over ``labels``, default the classes present in ``y_true``).
    """
    from scipy.stats import bootstrap

    y_true = np.asarray(y_true, dtype=object)
    labels = labels or ordered_labels(y_true)
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)

    def codes(values: Any) -> np.ndarray:
        return np.fromiter((index.get(v, k) for v in np.asarray(values, dtype=object)), dtype=np.int64,
                           count=len(y_true))

    def macro_f1(t: np.ndarray, p: np.ndarray) -> float:
        counts = np.bincount(t * (k + 1) + p, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
        tp = np.diag(counts)[:k].astype(float)
        denominator = counts.sum(axis=0)[:k] + counts.sum(axis=1)[:k]  # predicted as + truly each label
        return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)))

    samples = [codes(y_true), codes(y_pred)]
    if baseline is None:
        def statistic(t: np.ndarray, p: np.ndarray) -> float:
            return macro_f1(t, p)
    else:
        samples.append(codes(baseline))

        def statistic(t: np.ndarray, p: np.ndarray, b: np.ndarray) -> float:
            return macro_f1(t, p) - macro_f1(t, b)

    if len(y_true) < 2:
        value = statistic(*samples)
        return value, value
    result = bootstrap(tuple(samples), statistic, paired=True, vectorized=False, n_resamples=n_resamples,
                       confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def evaluate_model(model: Any, frame: pd.DataFrame, label_column: str = "label") -> Metrics:
    """Score a fitted Pipeline on ``frame`` (model input = the ISSUE_COLUMNS)."""
    predictions = model.predict(frame.loc[:, list(ISSUE_COLUMNS)])
    return evaluate_predictions(frame[label_column].to_numpy(dtype=object), predictions)


#: Age buckets of :func:`segment_metrics`: (name, rows at most this many days older than the newest row).
AGE_BUCKETS: tuple[tuple[str, float], ...] = (("age.under-1y", 365.0), ("age.1-2y", 730.0), ("age.2-5y", 1826.0),
                                              ("age.over-5y", float("inf")))


@dataclass
class SegmentMetrics:
    """Quality and calibration of one model on one slice of rows (``source.<analyzer>``, ``age.<bucket>``)."""

    segment: str
    rows: int
    macro_f1: float
    accuracy: float
    mean_confidence: float
    ece: float

    def as_mlflow(self, prefix: str = "segment.") -> dict[str, float]:
        key = prefix + re.sub(r"[^0-9A-Za-z_.\-/ ]", "_", self.segment)
        return {f"{key}.rows": self.rows, f"{key}.macro_f1": self.macro_f1, f"{key}.accuracy": self.accuracy,
                f"{key}.mean_confidence": self.mean_confidence, f"{key}.ece": self.ece}


def segment_metrics(model: Any, frame: pd.DataFrame, label_column: str = "label", *, max_sources: int = 12,
                    min_rows: int = 5) -> list[SegmentMetrics]:
    """Per-segment macro-F1, accuracy and a calibration check of ``model`` on ``frame``.

    Why: one macro-F1 over a whole holdout hides a model that is good on one
    source and poor on another, or one that was right about old advisories
    and is off on recent ones while the label process moves.  Segments are the
    source of the finding (``analyzer``: the audit tool / analyser that raised
    it; the ``max_sources`` largest) and the age relative to the newest row
    (:data:`AGE_BUCKETS`); segments under ``min_rows`` rows are left out.  The
    calibration check is the expected calibration error of the top-class
    confidence against being right (``ml.calibration.expected_calibration_error``),
    beside the mean confidence and the accuracy it should match.
    """
    from ml.calibration import expected_calibration_error

    X = frame.loc[:, list(ISSUE_COLUMNS)]
    y = frame[label_column].to_numpy(dtype=object)
    proba = model.predict_proba(X)
    classes = np.asarray(model.classes_, dtype=object)
    predicted = classes[np.argmax(proba, axis=1)]
    confidence = proba.max(axis=1)
    correct = (predicted == y).astype(float)
    masks: list[tuple[str, np.ndarray]] = []
    sources = frame["analyzer"].astype(str).value_counts().head(max_sources).index
    masks += [(f"source.{source}", (frame["analyzer"].astype(str) == source).to_numpy()) for source in sources]
    created = pd.to_datetime(frame["created_at"])
    age_days = ((created.max() - created).dt.total_seconds() / 86400.0).to_numpy()
    lower = -1.0
    for name, upper in AGE_BUCKETS:
        masks.append((name, (age_days > lower) & (age_days <= upper)))
        lower = upper
    out = []
    for name, mask in masks:
        if mask.sum() < min_rows:
            continue
        m = evaluate_predictions(y[mask], predicted[mask])
        out.append(SegmentMetrics(name, int(mask.sum()), m.macro_f1, m.accuracy, float(confidence[mask].mean()),
                                  expected_calibration_error(correct[mask], confidence[mask])))
    return out


def confusion_figure(metrics: Metrics, title: str):
    """A matplotlib figure of the confusion matrix (Agg backend: works in workers without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    ConfusionMatrixDisplay(np.asarray(metrics.confusion), display_labels=metrics.labels).plot(
        ax=ax, cmap="Blues", colorbar=False, values_format="d"
    )
    ax.set_title(f"{title}\naccuracy {metrics.accuracy:.3f} · macro-F1 {metrics.macro_f1:.3f}")
    fig.tight_layout()
    return fig


def per_class_figure(metrics_by_model: dict[str, Metrics], title: str):
    """Grouped bars of per-class F1 for several models (champion vs challenger, candidates)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [s.value for s in Severity if any(s.value in m.per_class_f1 for m in metrics_by_model.values())]
    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=100)
    width = 0.8 / max(1, len(metrics_by_model))
    for i, (name, metrics) in enumerate(metrics_by_model.items()):
        xs = np.arange(len(labels)) + i * width
        ax.bar(xs, [metrics.per_class_f1.get(label, 0.0) for label in labels], width, label=name)
    ax.set_xticks(np.arange(len(labels)) + width * (len(metrics_by_model) - 1) / 2, labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------
# The frozen holdout
# ------------------------------------------------------------------------------------------
def in_holdout(project: pd.Series, issue_id: pd.Series, percent: int) -> np.ndarray:
    """Stable membership: sha256(project:issue_id) mod 100 < percent.

    The rule, not a random draw, decides, so an issue is in the holdout for
    every dataset version and every model — no champion ever trained on a row
    a challenger is judged on.
    """
    keys = project.astype(str) + ":" + issue_id.astype(str)
    buckets = keys.map(lambda k: int.from_bytes(hashlib.sha256(k.encode()).digest()[:4], "big") % 100)
    return (buckets < percent).to_numpy()


HOLDOUT_STRATEGIES: tuple[str, ...] = ("time", "hash")


def time_order(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` oldest first by ``created_at``; ties (and missing times, first) broken by ``issue_id`` when present.

    A total order, so the same rows always give the same split.
    """
    keys = ["created_at", "issue_id"] if "issue_id" in frame.columns else ["created_at"]
    return frame.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


def newest_split(frame: pd.DataFrame, percent: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(older, newest): the newest ``percent`` % of rows by :func:`time_order` (at least one row each side when possible)."""
    ordered = time_order(frame)
    n = len(ordered)
    newest = min(max(1, round(n * percent / 100)), n - 1) if n > 1 else 0
    return ordered.iloc[: n - newest].reset_index(drop=True), ordered.iloc[n - newest:].reset_index(drop=True)


def holdout_split(labelled: pd.DataFrame, percent: int, strategy: str = "time") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout) of the labelled rows of a dataset frame, by ``strategy`` (see the module docstring)."""
    if strategy == "time":
        return newest_split(labelled, percent)
    if strategy == "hash":
        mask = in_holdout(labelled["project"], labelled["issue_id"], percent)
        return labelled.loc[~mask].reset_index(drop=True), labelled.loc[mask].reset_index(drop=True)
    raise ValueError(f"holdout strategy must be one of {HOLDOUT_STRATEGIES}, not {strategy!r}")


def split_by_ids(labelled: pd.DataFrame, holdout_ids: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout) with the holdout = the rows whose ``issue_id`` is in ``holdout_ids`` (a frozen holdout re-read)."""
    mask = labelled["issue_id"].isin(set(holdout_ids)).to_numpy()
    return labelled.loc[~mask].reset_index(drop=True), labelled.loc[mask].reset_index(drop=True)


def holdout_hash(holdout: pd.DataFrame) -> str:
    """Content hash of exactly what models are judged on: issue ids, model input and labels."""
    columns = ["issue_id", *ISSUE_COLUMNS, "label"]
    ordered = holdout.loc[:, columns].sort_values("issue_id", kind="stable").reset_index(drop=True)
    rows = pd.util.hash_pandas_object(ordered.astype(str), index=False).to_numpy()
    return hashlib.sha256(np.ascontiguousarray(rows).tobytes()).hexdigest()
