"""Compiled inference for the calibrated helpfulness model (``autopr-helpfulness``).

Why this module exists: when a helpfulness model is registered, every severity
prediction also asks it P(reviewer finds the issue helpful).  That model is a
``CalibratedClassifierCV`` over ``Pipeline([FunctionTransformer(_derive),
ColumnTransformer([OneHotEncoder, TfidfVectorizer]), LogisticRegression])`` —
3 to 5 cross-validation folds, each deriving the same pandas frame again —
about 40 ms of CPU for one issue, twice the whole latency budget.  Compiled
with the nodes of :mod:`ml.fast_predict`: the derived columns are computed
once (row-wise mirror of :func:`ml.calibration._derive`, or the real function
on a real frame when its source changed), each fold's column transformer and
logistic regression run on plain arrays, and each fold's fitted calibrator
(sigmoid or isotonic) maps the decision values exactly as sklearn does.

Same guarantees as the severity path: anything not understood → None (the
plain model serves), a load-time self-check against
``model.predict_proba(helpfulness_frame(probes))``, and the plain model
answers any input the compiled path cannot express.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from ml import fast_predict as fp

#: ``helpfulness_frame`` + ``_derive`` as mirrored below.
DERIVE_FINGERPRINT = "121be7c13f8bb6d3"


def derive_fingerprint() -> str:
    from ml import calibration

    return fp._fingerprint(calibration.helpfulness_frame, calibration._derive, calibration.HELPFULNESS_COLUMNS)


_TEST_PATH = re.compile("test|spec|fixture|example")


def _raw(records: Sequence[Mapping[str, Any]]) -> fp.Columns:
    """The columns :func:`ml.calibration.helpfulness_frame` builds its frame from (same checks, same errors)."""
    from ml.calibration import helpfulness_columns

    return helpfulness_columns(records)


def _derive_rows(cols: fp.Columns) -> fp.Columns:
    """Mirror of :func:`ml.calibration._derive` (pandas string semantics via ``fast_predict._lower_many``)."""
    from ml.features import file_type

    analyzer = fp._lower_many(cols["analyzer"])
    rule = [a + ":" + r for a, r in zip(analyzer, fp._lower_many(cols["rule"]), strict=True)]
    ftype = [file_type(p) for p in cols["file_path"]]
    lower = fp._lower_many(cols["file_path"])
    repository = fp._lower_many(cols["repository"])
    return {
        "rule": rule,
        "analyzer": analyzer,
        "file_type": ftype,
        "repository": repository,
        "severity": fp._lower_many(cols["severity"]),
        "rule_repo": [r + "@" + rp for r, rp in zip(rule, repository, strict=True)],
        "rule_type": [r + "@" + t for r, t in zip(rule, ftype, strict=True)],
        "test_path": ["test" if _TEST_PATH.search(p) else "src" for p in lower],
        "text": fp._lower_many(cols["message"]),
    }


class HelpfulnessPredictor(fp.FastPredictor):
    """``predict_proba(records)`` equal to ``model.predict_proba(helpfulness_frame(records))``."""

    def __init__(self, model: Any, derive: Any, folds: list[tuple[fp.Node, Any, list[Any]]], fallback_steps: list[str]):
        from ml.calibration import HelpfulnessInputError

        self.pipeline = model
        self.derive_frame = derive  # None: the row-wise mirror
        self.folds = folds
        self.fallback_steps = fallback_steps
        self.classes_ = model.classes_
        self.pipeline_answers = 0
        self.surprised = False
        self.input_errors = (HelpfulnessInputError,)

    def _derived(self, records: Sequence[Mapping[str, Any]]) -> fp.Columns:
        if self.derive_frame is None:
            return _derive_rows(_raw(records))
        from ml.calibration import helpfulness_frame

        derived = self.derive_frame.transform(helpfulness_frame(records))
        return {c: derived[c].tolist() for c in derived.columns}

    def _fast(self, records: Sequence[Mapping[str, Any]], now: datetime | None) -> np.ndarray:
        n = len(records)
        derived = self._derived(records)
        mean = np.zeros((n, 2))
        for columns, logistic, calibrators in self.folds:
            decision = logistic(columns(derived, n))  # (n, 1) scores of the positive class
            proba = np.zeros((n, 2))
            proba[:, 1] = calibrators[0].predict(decision)
            proba[:, 0] = 1.0 - proba[:, 1]
            proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
            mean += proba
        mean /= len(self.folds)
        return mean

    def _plain(self, records: Sequence[Mapping[str, Any]], now: datetime | None) -> np.ndarray:
        from ml.calibration import helpfulness_frame

        return self.pipeline.predict_proba(helpfulness_frame(records))


class _Decision:
    """Binary LogisticRegression.decision_function on plain arrays: ``X @ coef.T + intercept`` as a 1-D vector."""

    def __init__(self, clf: Any):
        self.coef_T = clf.coef_.T
        self.intercept = clf.intercept_

    def __call__(self, X: Any) -> np.ndarray:
        return (np.asarray(fp._matrix(X) @ self.coef_T) + self.intercept).reshape(-1)


def compile_helpfulness(model: Any) -> HelpfulnessPredictor:
    """Raises :class:`ml.fast_predict.NotCompilable` for anything but the shape ml.calibration builds."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from ml import calibration

    if type(model) is not CalibratedClassifierCV or len(model.classes_) != 2:
        raise fp.NotCompilable("not a binary CalibratedClassifierCV")
    folds, derive_steps = [], []
    for cc in model.calibrated_classifiers_:
        est = cc.estimator
        if cc.method not in ("sigmoid", "isotonic") or len(cc.calibrators) != 1 or len(cc.classes) != 2:
            raise fp.NotCompilable(f"calibration method {cc.method}")
        if not (np.array_equal(cc.classes, model.classes_) and np.array_equal(est.classes_, model.classes_)):
            raise fp.NotCompilable("fold classes differ from the model's")
        calibrator = cc.calibrators[0]
        if type(calibrator) is not IsotonicRegression and type(calibrator).__name__ != "_SigmoidCalibration":
            raise fp.NotCompilable(f"calibrator {type(calibrator).__name__}")
        if not isinstance(est, Pipeline) or len(est.steps) != 3:
            raise fp.NotCompilable("fold estimator is not Pipeline([derive, columns, model])")
        derive, ct, clf = (step for _, step in est.steps)
        if (type(derive) is not FunctionTransformer or derive.func is not calibration._derive or derive.kw_args
                or derive.validate or getattr(derive, "_sklearn_output_config", None)):
            raise fp.NotCompilable("fold derive step is not FunctionTransformer(ml.calibration._derive)")
        if not isinstance(ct, ColumnTransformer) or type(clf) is not LogisticRegression or clf.coef_.shape[0] != 1:
            raise fp.NotCompilable("fold columns/model are not ColumnTransformer → binary LogisticRegression")
        derive_steps.append(derive)
        folds.append((ct, clf, calibrator))
    if not folds:
        raise fp.NotCompilable("no calibrated folds")
    derived = derive_steps[0].transform(calibration.helpfulness_frame(fp.PROBES[:2]))
    compiler = fp._Compiler({c: derived[c].dtype for c in derived.columns})
    native = derive_fingerprint() == DERIVE_FINGERPRINT
    if not native:
        compiler.fallback_steps.append("helpfulness _derive")
    compiled = [(compiler.column_transformer(ct), _Decision(clf), [calibrator]) for ct, clf, calibrator in folds]
    return HelpfulnessPredictor(model, None if native else derive_steps[0], compiled, compiler.fallback_steps)


def compile_helpfulness_model(model: Any) -> HelpfulnessPredictor | None:
    """The checked compiled form, or None (serve ``model.predict_proba(helpfulness_frame(...))``)."""
    return fp.checked(compile_helpfulness, model, HELPFULNESS_PROBES)


#: Severity probes plus analyser levels as the helpfulness model sees them.
HELPFULNESS_PROBES: list[dict[str, Any]] = [
    {**p, "severity": s} for p, s in zip(fp.PROBES, ["high", "LOW", None, "critical", "info", "", "medium", "high",
                                                   "critical", "weird"], strict=True)]
