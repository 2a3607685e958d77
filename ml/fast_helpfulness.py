"""Compiled inference for the calibrated helpfulness model (``autopr-helpfulness``).

Why this module exists: when a helpfulness model is registered, every severity
prediction also asks it P(reviewer finds the issue helpful).  That model is a
``CalibratedClassifierCV`` over ``Pipeline([FunctionTransformer(_derive),
ColumnTransformer([OneHotEncoder, TfidfVectorizer]), LogisticRegression])`` —
several cross-validation folds, each deriving the same pandas frame again — and
costs more CPU for one issue than the whole latency budget.  Compiled with
:mod:`ml.compiled`: the derived columns are computed once
(:func:`ml.calibration.derive_helpfulness_columns`, the function the model's own
``_derive`` step calls), each fold's column transformer and logistic regression
run on plain arrays, and each fold's fitted calibrator (sigmoid or isotonic)
maps the decision values exactly as sklearn does.

Same guarantees as the severity path: anything not understood → None (the
plain model serves), a load-time self-check against
``model.predict_proba(helpfulness_frame(probes))``, and the plain model
answers any input the compiled path cannot express.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ml.compiled.compiler import CompiledPredictor, Compiler, checked
from ml.compiled.estimators import CalibratedFoldsModel, DecisionNode, calibrated_folds
from ml.compiled.nodes import Columns, NotCompilable
from ml.fast_predict import PROBES


def compile_helpfulness_model(model: Any) -> CompiledPredictor | None:
    """The checked compiled form, or None (serve ``model.predict_proba(helpfulness_frame(...))``)."""
    return checked(compile_helpfulness, model, [*PROBES, *HELPFULNESS_PROBES])


def compile_helpfulness(model: Any) -> CompiledPredictor:
    """Raises :class:`ml.compiled.nodes.NotCompilable` for anything but the shape ml.calibration builds."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from ml import calibration

    folds = []
    for est, calibrator in calibrated_folds(model):
        if not isinstance(est, Pipeline) or len(est.steps) != 3:
            raise NotCompilable("fold estimator is not Pipeline([derive, columns, model])")
        derive, ct, clf = (step for _, step in est.steps)
        if (type(derive) is not FunctionTransformer or derive.func is not calibration._derive or derive.kw_args
                or derive.validate or getattr(derive, "_sklearn_output_config", None)):
            raise NotCompilable("fold derive step is not FunctionTransformer(ml.calibration._derive)")
        if not isinstance(ct, ColumnTransformer) or type(clf) is not LogisticRegression or clf.coef_.shape[0] != 1:
            raise NotCompilable("fold columns/model are not ColumnTransformer → binary LogisticRegression")
        folds.append((ct, clf, calibrator))
    derived = calibration._derive(calibration.helpfulness_frame(HELPFULNESS_PROBES[:2]))
    compiler = Compiler({c: derived[c].dtype for c in derived.columns})
    compiled = [(compiler.column_transformer(ct), DecisionNode(clf), calibrator) for ct, clf, calibrator in folds]
    return CompiledPredictor(model, derive=_derived, score=CalibratedFoldsModel(compiled), frame=_frame,
                             input_errors=(calibration.HelpfulnessInputError,),
                             fallback_steps=compiler.fallback_steps)


def _derived(records: Sequence[Mapping[str, Any]], now: datetime | None) -> Columns:
    from ml.calibration import derive_helpfulness_columns, helpfulness_columns

    return derive_helpfulness_columns(helpfulness_columns(records))


def _frame(records: Sequence[Mapping[str, Any]], now: datetime | None) -> Any:
    from ml.calibration import helpfulness_frame

    return helpfulness_frame(records)


#: Severity probes plus analyser levels as the helpfulness model sees them.
HELPFULNESS_PROBES: list[dict[str, Any]] = [
    {**p, "severity": s} for p, s in zip(PROBES, ["high", "LOW", None, "critical", "info", "", "medium", "high",
                                                   "critical", "weird"], strict=True)]
