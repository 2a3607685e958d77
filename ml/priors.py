"""Class-prior re-estimation: when the label mix moves, shift a fitted model's probabilities to the recent mix.

Why this module exists: scoring practice in this domain changes over time
(a new CVSS version, a tool that grades differently), so the share of each
severity among recent labels can move away from the share the model was fit
on while the inputs look the same.  Under such a *prior shift* the
model's P(class | input) is still right up to one factor per class, the ratio
of the new prior to the old one (Saerens, Latinne & Decaestecker 2002):

    P_new(k | x) ∝ P_train(k | x) · π_new(k) / π_train(k)

* :func:`class_priors` — the label shares (smoothed) of some rows;
* :func:`prior_shift` — how far two prior vectors are apart (total variation);
* :func:`adjust_proba` — the formula above, the one definition both the
  wrapper and the compiled serving path (``ml.fast_predict``) call;
* :class:`PriorAdjusted` — a fitted classifier wrapped so ``predict_proba`` and
  ``predict`` follow the recent priors; it takes the ``model`` step's place
  inside the served Pipeline, so the ONE MLflow model still holds featurisation
  and prediction;
* :func:`check_priors` — the retrain's decision: estimate the recent priors,
  and adjust only when they moved past a threshold *and* the adjustment does not
  lower macro-F1 on newer rows than the ones it was estimated on.

The recent priors are the labels' shares, not an EM estimate from unlabelled
rows: the retrain has labels for its newest rows (the validation slice).  The
candidates are class-balanced, so their probabilities do not carry π_train
exactly as the formula assumes; the ratio still moves them by how much the mix
changed, and the macro-F1 guard of :func:`check_priors` decides whether that
helps — it is why the adjustment is judged, not assumed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

#: Pseudo-count per class before shares are taken: a class absent from a small recent slice is rare, not gone
#: (a zero prior would make the model never answer it again).
PSEUDO_COUNT = 1.0


def class_priors(labels: Any, classes: Any, pseudo_count: float = PSEUDO_COUNT) -> np.ndarray:
    """Shares of ``classes`` among ``labels`` (in ``classes`` order), each count plus ``pseudo_count``."""
    labels = np.asarray(labels, dtype=object)
    counts = np.array([(labels == c).sum() for c in classes], dtype=float) + pseudo_count
    return counts / counts.sum()


def prior_shift(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance between two prior vectors: the share of labels that would have to change class."""
    return float(0.5 * np.abs(np.asarray(a) - np.asarray(b)).sum())


def adjust_proba(proba: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each row of ``proba`` times ``weights`` (π_new / π_train per class), renormalised to sum to one."""
    adjusted = np.asarray(proba, dtype=float) * np.asarray(weights, dtype=float)
    return adjusted / adjusted.sum(axis=1, keepdims=True)


class PriorAdjusted(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose probabilities are moved to new class priors (:func:`adjust_proba`).

    ``weights`` are π_new / π_train in the order of ``estimator.classes_``.
    ``fit`` refits the wrapped estimator and keeps the weights (sklearn's
    contract); the retrain wraps an already fitted one.
    """

    def __init__(self, estimator: Any = None, weights: Any = None):
        self.estimator = estimator
        self.weights = weights

    def fit(self, X: Any, y: Any, **fit_params: Any) -> PriorAdjusted:
        self.estimator.fit(X, y, **fit_params)
        return self

    def __sklearn_is_fitted__(self) -> bool:  # fitted when the wrapped estimator is (it holds the fitted state)
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(self.estimator)
        except Exception:  # noqa: BLE001 - NotFittedError or not an estimator: either way not fitted
            return False
        return True

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    def predict_proba(self, X: Any) -> np.ndarray:
        return adjust_proba(self.estimator.predict_proba(X), self.weights)

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_)[np.argmax(self.predict_proba(X), axis=1)]


def with_priors(pipeline: Any, weights: np.ndarray) -> Any:
    """A Pipeline of the same fitted steps whose last step is wrapped in :class:`PriorAdjusted`."""
    from sklearn.pipeline import Pipeline

    *steps, (name, model) = pipeline.steps
    return Pipeline([*steps, (name, PriorAdjusted(model, np.asarray(weights, dtype=float)))])


@dataclass
class PriorCheck:
    """What :func:`check_priors` found: the priors, the shift, macro-F1 without and with, and whether it applies.

    ``train_priors`` are the shipped model's fit rows' label shares, ``recent_priors`` the validation slice's.
    """

    classes: list[str]
    train_priors: list[float]
    recent_priors: list[float]
    shift: float
    threshold: float
    macro_f1_without: float
    macro_f1_with: float
    applied: bool
    reason: str

    @property
    def weights(self) -> np.ndarray:
        """π_recent / π_train per class, the :class:`PriorAdjusted` weights."""
        return np.asarray(self.recent_priors) / np.asarray(self.train_priors)

    def as_mlflow(self, prefix: str = "priors.") -> dict[str, float]:
        out = {f"{prefix}shift": self.shift, f"{prefix}applied": float(self.applied),
               f"{prefix}validation_macro_f1_without": self.macro_f1_without,
               f"{prefix}validation_macro_f1_with": self.macro_f1_with}
        for label, before, after in zip(self.classes, self.train_priors, self.recent_priors):
            out[f"{prefix}train.{label}"] = before
            out[f"{prefix}recent.{label}"] = after
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_priors(classes: Any, fit_labels: Any, validation_labels: Any, validation_proba: np.ndarray,
                 validation_classes: Any, *, shipped_labels: Any, threshold: float) -> PriorCheck:
    """Decide whether recent class priors should move the chosen model (whose ``classes_`` are ``classes``).

    ``validation_proba`` are the probabilities, on the validation slice
    (time-ordered, newer than every fit row), of the model fit on
    ``fit_labels``' rows (columns ``validation_classes``: that model may have
    seen fewer classes than the shipped one); ``validation_labels`` the
    slice's labels; ``shipped_labels`` the labels of the rows the shipped
    model is refit on.  The older half of the slice estimates the recent priors,
    the newer half judges them: macro-F1 there with and without the
    adjustment, so the priors are never scored on the rows they came from.
    The check applies when the shift reaches ``threshold`` and macro-F1 with
    the adjustment is at least macro-F1 without.  The returned priors are the
    ones to ship (:attr:`PriorCheck.weights`): the whole slice's shares against
    ``shipped_labels``' shares (judged on part of the slice, estimated on all of
    it — as candidates are chosen on the slice and refit on everything).
    """
    from ml.evaluation import evaluate_predictions

    classes, judged_classes = np.asarray(classes, dtype=object), np.asarray(validation_classes, dtype=object)
    y = np.asarray(validation_labels, dtype=object)
    half = len(y) // 2
    older, newer = slice(0, half), slice(half, len(y))
    estimated = class_priors(y[older], judged_classes)
    judged = adjust_proba(validation_proba[newer], estimated / class_priors(fit_labels, judged_classes))
    without = evaluate_predictions(y[newer], judged_classes[np.argmax(validation_proba[newer], axis=1)]).macro_f1
    with_ = evaluate_predictions(y[newer], judged_classes[np.argmax(judged, axis=1)]).macro_f1
    train, recent = class_priors(shipped_labels, classes), class_priors(y, classes)
    shift = prior_shift(train, recent)
    if shift < threshold:
        applied, reason = False, f"label mix moved {shift:.3f} (total variation), under the threshold {threshold}"
    elif with_ < without:
        applied, reason = False, (f"label mix moved {shift:.3f}, but the adjustment lowers validation macro-F1 "
                                  f"({with_:.3f} < {without:.3f})")
    else:
        applied, reason = True, (f"label mix moved {shift:.3f} ≥ {threshold}; validation macro-F1 {with_:.3f} "
                                 f"with the adjustment, {without:.3f} without")
    return PriorCheck([str(c) for c in classes], train.tolist(), recent.tolist(), shift, threshold, without, with_,
                      applied, reason)
