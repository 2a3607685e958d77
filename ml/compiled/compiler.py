"""The walk over a fitted estimator into nodes, the compiled predictor, and the load-time self-check.

Never a wrong answer: anything not understood (an unknown step type, a step
fitted on other columns, categories that are not strings) raises
:class:`~ml.compiled.nodes.NotCompilable` and the plain model serves; after
compiling, :func:`checked` compares the compiled path with the model on odd
probe records and discards it on any difference above :data:`TOLERANCE`; at
request time an input the compiled path cannot express exactly (a non-finite
metric, an unknown category under ``handle_unknown="error"``), or any
unexpected error inside it, is answered by the plain model.

What feeds a model is the caller's: :class:`CompiledPredictor` is handed the
row-wise derivation (records → the derived columns the fitted column
transformer selects from) and the frame builder the plain model is fed.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ml.compiled.categorical import OneHotNode
from ml.compiled.estimators import LogisticNode, XGBNode
from ml.compiled.nodes import (
    Columns,
    ColumnTransformerNode,
    FeatureUnionNode,
    NeedsPipeline,
    Node,
    NotCompilable,
    PandasStepNode,
    PipelineNode,
    RowwiseNode,
)
from ml.compiled.numeric import MATRIX_STEPS, ImputerNode, MatrixStepNode, ScalerNode, SVDNode
from ml.compiled.text import HashingNode, VectorizerNode, warm_word_memos

log = logging.getLogger(__name__)

#: Largest |compiled - model| probability difference accepted by the load-time self-check.
TOLERANCE = 1e-6

Records = Sequence[Mapping[str, Any]]


def _fitted_on_frame(step: Any) -> bool:
    return hasattr(step, "feature_names_in_")


class Compiler:
    """Fitted sklearn steps → nodes.

    ``derived_dtypes`` are the dtypes of the derived frame the fitted steps saw
    (for steps that get pandas input); ``frame_step`` says which table-stage
    transformers without a compiled form may run through pandas on exactly the
    columns the Pipeline would give them (stateless project transformers).
    """

    def __init__(self, derived_dtypes: Mapping[str, Any] | None, frame_step: Callable[[Any], bool] = lambda est: False):
        self.derived_dtypes = derived_dtypes or {}
        self.frame_step = frame_step
        self.fallback_steps: list[str] = []  # steps served through pandas (slower, still exact)

    def table(self, est: Any, columns: Any) -> Node:
        """A step whose input is a column selection (``columns``: str → 1-D, list → 2-D) of derived columns."""
        from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import FeatureUnion, Pipeline
        from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

        if isinstance(est, Pipeline):
            first = self.table(est.steps[0][1], columns)
            rest = [self.matrix(step) for _, step in est.steps[1:] if step not in (None, "passthrough")]
            return PipelineNode([first, *rest])
        if isinstance(est, FeatureUnion):
            weights = est.transformer_weights or {}
            parts = [(self.table(t, columns), weights.get(name)) for name, t in est.transformer_list
                     if t not in (None, "drop")]
            if any(t == "passthrough" for _, t in est.transformer_list):
                raise NotCompilable("FeatureUnion passthrough")
            return FeatureUnionNode(parts)
        if isinstance(est, CountVectorizer):  # TfidfVectorizer too
            if not isinstance(columns, str) or est.input != "content":
                raise NotCompilable("vectoriser over a 2-D selection or non-content input")
            return VectorizerNode(est)
        if isinstance(est, HashingVectorizer):
            if not isinstance(columns, str) or est.input != "content":
                raise NotCompilable("vectoriser over a 2-D selection or non-content input")
            return HashingNode(est)
        if isinstance(est, OneHotEncoder):
            if isinstance(columns, str):
                raise NotCompilable("OneHotEncoder over a 1-D selection")
            return OneHotNode(est, list(columns), self.derived_dtypes)
        if isinstance(est, SimpleImputer):
            if isinstance(columns, str):
                raise NotCompilable("SimpleImputer over a 1-D selection")
            if any(str(self.derived_dtypes.get(c, "float64")) != "float64" for c in columns):
                raise NotCompilable("SimpleImputer over non-float columns")
            return ImputerNode(est)
        if type(est) is FunctionTransformer or self.frame_step(est):
            if _fitted_on_frame(est) and list(getattr(est, "feature_names_in_", [])) != (
                    [columns] if isinstance(columns, str) else list(columns)):
                raise NotCompilable(f"{type(est).__name__} fitted on other columns")
            if callable(getattr(est, "transform_rows", None)):
                return RowwiseNode(est)
            self.fallback_steps.append(type(est).__name__)
            return PandasStepNode(est, self.derived_dtypes, columns)
        return self._no(est)

    def matrix(self, est: Any) -> Node:
        """A step whose input is the numeric matrix the previous step produced."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        if isinstance(est, Pipeline):
            return PipelineNode([self.matrix(s) for _, s in est.steps if s not in (None, "passthrough")])
        if _fitted_on_frame(est):
            raise NotCompilable(f"{type(est).__name__} fitted on a frame in matrix position")
        if type(est) is StandardScaler:
            return ScalerNode(est)
        if type(est) is TruncatedSVD:
            return SVDNode(est)
        if type(est).__module__.startswith("sklearn.") and type(est).__name__ in MATRIX_STEPS:
            return MatrixStepNode(est)
        return self._no(est)

    @staticmethod
    def _no(est: Any) -> Node:
        raise NotCompilable(f"no compiled form for {type(est).__module__}.{type(est).__name__}")

    def column_transformer(self, ct: Any) -> Node:
        blocks = []
        for name, trans, columns in ct.transformers_:
            if trans == "drop":
                continue
            if name == "remainder" or trans == "passthrough":
                raise NotCompilable("ColumnTransformer remainder/passthrough")
            if not (isinstance(columns, str) or (isinstance(columns, list) and all(isinstance(c, str) for c in columns))):
                raise NotCompilable("ColumnTransformer column selection other than names")
            if not isinstance(columns, str) and not columns:
                continue
            blocks.append((self.table(trans, columns), columns))
        node = ColumnTransformerNode(blocks, bool(ct.sparse_output_))
        warm_word_memos(node)
        return node

    @staticmethod
    def classifier(clf: Any) -> Callable[[Any], np.ndarray]:
        from sklearn.linear_model import LogisticRegression

        if type(clf) is LogisticRegression:
            return LogisticNode(clf)
        if type(clf).__module__.startswith("xgboost."):
            from xgboost import XGBClassifier

            if type(clf) is XGBClassifier:
                return XGBNode(clf)
        raise NotCompilable(f"no compiled form for classifier {type(clf).__name__}")


class CompiledPredictor:
    """``predict_proba(records)`` equal to ``model.predict_proba(frame(records))``, without pandas per call.

    ``derive(records, now)`` validates records and returns the derived columns
    (raising the same input errors as ``frame``); ``score(derived, n)`` is the
    compiled rest of the model; ``input_errors`` are the errors both raise for
    a bad record, passed on instead of retried through the plain model.
    """

    def __init__(self, model: Any, *, derive: Callable[[Records, datetime | None], Columns],
                 score: Callable[[Columns, int], np.ndarray], frame: Callable[[Records, datetime | None], Any],
                 input_errors: tuple[type[Exception], ...], fallback_steps: list[str]):
        self.pipeline = model
        self.derive = derive
        self.score = score
        self.frame = frame
        self.input_errors = input_errors
        self.fallback_steps = fallback_steps
        self.classes_ = model.classes_
        self.pipeline_answers = 0  # calls answered by the plain model (NeedsPipeline or a surprise)
        self.surprised = False

    def _fast(self, records: Records, now: datetime | None) -> np.ndarray:
        return np.asarray(self.score(self.derive(records, now), len(records)), dtype=np.float64)

    def _plain(self, records: Records, now: datetime | None) -> np.ndarray:
        return self.pipeline.predict_proba(self.frame(records, now))

    def predict_proba(self, records: Records, now: datetime | None = None) -> np.ndarray:
        try:
            return self._fast(records, now)
        except self.input_errors:
            raise  # the frame builder rejects the same record with the same error
        except NeedsPipeline:
            pass
        except Exception:  # a surprise in the compiled path: the model answers, logged once
            if not self.surprised:
                self.surprised = True
                log.exception("compiled inference path failed; answering with the plain model")
        self.pipeline_answers += 1
        return self._plain(records, now)


def checked(compile_fn: Callable[[Any], CompiledPredictor], model: Any, probes: Records) -> CompiledPredictor | None:
    """``compile_fn(model)`` if it compiles and passes :func:`self_check` on ``probes``, else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fast = compile_fn(model)
    except NotCompilable as exc:
        log.info("serving the plain model: %s", exc)
        return None
    except Exception:
        log.exception("compiling the model failed; serving the plain model")
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            diff = self_check(fast, probes)
    except Exception:
        log.exception("compiled path self-check failed; serving the plain model")
        return None
    fast.pipeline_answers = 0  # count serving traffic only
    if not diff <= TOLERANCE:
        log.warning("compiled path differs from the model by %.3g; serving the plain model", diff)
        return None
    if fast.fallback_steps:
        log.warning("compiled path serves these steps through pandas (exact, slower): %s", fast.fallback_steps)
    return fast


def self_check(fast: CompiledPredictor, records: Records) -> float:
    """Largest |fast − model| over ``records`` (scored one by one and as one batch).

    Records the model itself rejects (an unknown category under
    ``handle_unknown="error"``) must be rejected by the compiled path's
    ``predict_proba`` with the same error; they are left out of the comparison.
    """
    now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    accepted = []
    for record in records:
        try:
            fast._plain([record], now)
        except Exception as plain:  # noqa: BLE001 - compared with the compiled path's answer below
            try:
                fast.predict_proba([record], now)
            except Exception as compiled:  # noqa: BLE001
                if type(compiled) is type(plain) and str(compiled) == str(plain):
                    continue
            return math.inf
        accepted.append(record)
    if not accepted:
        return math.inf
    expected = fast._plain(accepted, now)
    got = fast._fast(accepted, now)
    single = np.vstack([fast._fast([r], now) for r in accepted[:8]])
    if got.shape != expected.shape:
        return math.inf
    return float(max(np.abs(got - expected).max(), np.abs(single - expected[: len(single)]).max()))
