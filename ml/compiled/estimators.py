"""Final estimators on the compiled feature matrix: logistic regression, XGBoost, calibrated CV folds.

Each is a callable ``matrix → probabilities`` (shape ``(n, n_classes)``); the
calibrated form averages its folds' calibrated probabilities as
``CalibratedClassifierCV.predict_proba`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ml.compiled.nodes import Columns, NeedsPipeline, Node, NotCompilable, as_matrix


class LogisticNode:
    def __init__(self, clf: Any):
        self.coef_T = np.ascontiguousarray(clf.coef_.T)
        self.intercept = clf.intercept_
        self.binary = len(clf.classes_) <= 2

    def __call__(self, X: Any) -> np.ndarray:
        from sklearn.utils.extmath import softmax

        scores = as_matrix(X) @ self.coef_T
        scores = np.asarray(scores) + self.intercept
        if self.binary:
            from scipy.special import expit

            p = expit(scores.reshape(-1))
            return np.vstack([1 - p, p]).T
        return softmax(scores, copy=False)


class DecisionNode:
    """Binary LogisticRegression.decision_function on plain arrays: ``X @ coef.T + intercept`` as a 1-D vector."""

    def __init__(self, clf: Any):
        self.coef_T = clf.coef_.T
        self.intercept = clf.intercept_

    def __call__(self, X: Any) -> np.ndarray:
        return (np.asarray(as_matrix(X) @ self.coef_T) + self.intercept).reshape(-1)


class XGBNode:
    """XGBClassifier.predict_proba's own inplace_predict call, without its per-call plumbing."""

    def __init__(self, xgb: Any):
        if xgb.objective not in ("multi:softprob", "binary:logistic") or not xgb._can_use_inplace_predict():
            raise NotCompilable(f"XGBoost objective {xgb.objective}")
        self.booster = xgb.get_booster()
        self.iteration_range = xgb._get_iteration_range(None)
        self.missing = xgb.missing
        self.n_classes = xgb.n_classes_

    def __call__(self, X: Any) -> np.ndarray:
        X = as_matrix(X)
        predts = self.booster.inplace_predict(data=X, iteration_range=self.iteration_range, predict_type="value",
                                              missing=self.missing, validate_features=True)
        if predts.ndim == 2 and predts.shape[1] == self.n_classes:
            return predts
        if predts.ndim == 1 and self.n_classes == 2:
            return np.vstack((1 - predts, predts)).transpose()
        raise NeedsPipeline("unexpected XGBoost output shape")


class ColumnsModel:
    """Derived columns → the column transformer's matrix → the classifier's probabilities."""

    def __init__(self, columns: Node, classify: Callable[[Any], np.ndarray]):
        self.columns = columns
        self.classify = classify

    def __call__(self, derived: Columns, n: int) -> np.ndarray:
        return self.classify(self.columns(derived, n))


def calibrated_folds(model: Any) -> list[tuple[Any, Any]]:
    """(fold estimator, its calibrator) of a fitted binary ``CalibratedClassifierCV``; NotCompilable otherwise."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.isotonic import IsotonicRegression

    if type(model) is not CalibratedClassifierCV or len(model.classes_) != 2:
        raise NotCompilable("not a binary CalibratedClassifierCV")
    folds = []
    for cc in model.calibrated_classifiers_:
        est = cc.estimator
        if cc.method not in ("sigmoid", "isotonic") or len(cc.calibrators) != 1 or len(cc.classes) != 2:
            raise NotCompilable(f"calibration method {cc.method}")
        if not (np.array_equal(cc.classes, model.classes_) and np.array_equal(est.classes_, model.classes_)):
            raise NotCompilable("fold classes differ from the model's")
        calibrator = cc.calibrators[0]
        if type(calibrator) is not IsotonicRegression and type(calibrator).__name__ != "_SigmoidCalibration":
            raise NotCompilable(f"calibrator {type(calibrator).__name__}")
        folds.append((est, calibrator))
    if not folds:
        raise NotCompilable("no calibrated folds")
    return folds


class CalibratedFoldsModel:
    """Derived columns → each fold's matrix, decision values and calibrated probability → their mean."""

    def __init__(self, folds: list[tuple[Node, DecisionNode, Any]]):
        self.folds = folds

    def __call__(self, derived: Columns, n: int) -> np.ndarray:
        mean = np.zeros((n, 2))
        for columns, decision, calibrator in self.folds:
            scores = decision(columns(derived, n))  # (n,) scores of the positive class
            proba = np.zeros((n, 2))
            proba[:, 1] = calibrator.predict(scores)
            proba[:, 0] = 1.0 - proba[:, 1]
            proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
            mean += proba
        mean /= len(self.folds)
        return mean
