"""Models pickled by the layout before ml/compiled/ (commit 1981df7) still load, compile and answer exactly.

Registered MLflow models name the classes and functions they were pickled with
(``ml.features.DeriveFeatures``, ``ml.severity_signals.KeywordGroups``,
``ml.calibration._derive``).  The fixtures in tests/fixtures/models/1981df7
were saved by that commit's code (see the README there); today's code must
load them, serve them through the compiled path, and give the pipeline's own
probabilities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.ml_serving.test_fast_predict import NOW, odd_records

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "models" / "1981df7"


def _load(name: str):
    import mlflow.sklearn

    return mlflow.sklearn.load_model(str(FIXTURES / name))


def test_severity_model_of_the_previous_layout_is_served_compiled_and_exactly():
    from ml.fast_predict import PROBES, compile_model
    from ml.features import DeriveFeatures, issues_frame
    from ml.severity_signals import KeywordGroups

    model = _load("severity")
    steps = model.steps[0][1].steps
    assert type(steps[0][1]) is DeriveFeatures
    assert any(type(t.steps[0][1]) is KeywordGroups for _, t, _ in steps[1][1].transformers_ if hasattr(t, "steps"))
    fast = compile_model(model)
    assert fast is not None and fast.fallback_steps == []
    records = [*PROBES, *odd_records(seed=8, n=200)]
    expected = model.predict_proba(issues_frame(records, now=NOW))
    got = fast.predict_proba(records, now=NOW)
    assert np.abs(got - expected).max() <= 1e-6
    assert fast.pipeline_answers == 0


@pytest.mark.parametrize("batch", [1, 50])
def test_helpfulness_model_of_the_previous_layout_is_served_compiled_and_exactly(batch):
    from ml.calibration import helpfulness_frame
    from ml.fast_helpfulness import compile_helpfulness_model

    model = _load("helpfulness")
    fast = compile_helpfulness_model(model)
    assert fast is not None and fast.fallback_steps == []
    records = [{**r, "severity": ["low", "HIGH", None, "critical"][i % 4]} for i, r in enumerate(odd_records(seed=9))]
    for start in range(0, len(records), batch * 7):
        chunk = records[start:start + batch]
        expected = model.predict_proba(helpfulness_frame(chunk))
        assert np.abs(fast.predict_proba(chunk) - expected).max() <= 1e-6
    assert fast.pipeline_answers == 0
