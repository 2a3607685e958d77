"""Per-segment metrics (by source and by age) with a calibration check: what one macro-F1 hides."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def test_segments_split_by_source_and_age_and_check_calibration():
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    from ml.evaluation import segment_metrics
    from ml.training import plain_pipeline

    newest = pd.Timestamp("2024-06-01")
    frame = pd.DataFrame({
        "message": ["remote code execution"] * 6 + ["denial of service"] * 6,
        "rule": ["r"] * 12, "analyzer": ["cargo-audit"] * 6 + ["npm-audit"] * 6, "file_path": ["Cargo.lock"] * 12,
        "line": np.nan, "repository": "pkg", "pr_size": np.nan, "complexity": np.nan, "file_lines": np.nan,
        "created_at": [newest - pd.Timedelta(days=d) for d in [0, 10, 20, 30, 40, 50] + [800, 810, 820, 830, 840, 850]],
        "label": ["high"] * 6 + ["low"] * 6,
    })
    always_high = Pipeline([("features", plain_pipeline().named_steps["features"]),
                            ("model", DummyClassifier(strategy="constant", constant="high"))])
    always_high.fit(frame, ["high", "low"] * 6)
    segments = {s.segment: s for s in segment_metrics(always_high, frame)}
    assert set(segments) == {"source.cargo-audit", "source.npm-audit", "age.under-1y", "age.2-5y"}
    right, wrong = segments["source.cargo-audit"], segments["source.npm-audit"]
    assert (right.rows, right.accuracy, right.macro_f1) == (6, 1.0, 1.0)
    assert (wrong.accuracy, wrong.macro_f1) == (0.0, 0.0)
    # a constant answer is "sure" of itself (confidence 1): calibrated where right, off by 1 where wrong
    assert right.ece == pytest.approx(0.0) and wrong.ece == pytest.approx(1.0)
    assert segments["age.under-1y"].accuracy == 1.0 and segments["age.2-5y"].accuracy == 0.0
    assert set(right.as_mlflow()) == {f"segment.source.cargo-audit.{k}"
                                      for k in ("rows", "macro_f1", "accuracy", "mean_confidence", "ece")}
