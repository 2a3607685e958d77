"""Ingest (advisories through the review path) → export → GX gate, against real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture()
def advisories():
    from ml.ingest import load_advisories

    frame = load_advisories()
    return frame.sample(frac=1.0, random_state=0).groupby("severity").head(40).sort_values("published")


def test_ingest_is_idempotent_and_export_is_incremental(db, project, ml_env, advisories):
    from include.db.session import session_scope
    from ml.export import FeedbackDataset, export_once
    from ml.ingest import ingest_advisories

    with session_scope() as s:
        first = ingest_advisories(s, project, advisories.iloc[:100])
    with session_scope() as s:
        again = ingest_advisories(s, project, advisories.iloc[:100])
    assert (first.imported, again.imported, again.skipped) == (100, 0, 100)

    v1 = export_once(db, ml_env.dataset_dir)
    assert v1.version == "v000001" and v1.rows == 100 and v1.labelled_rows == 100
    assert export_once(db, ml_env.dataset_dir) is None  # nothing new since the watermark

    with session_scope() as s:
        ingest_advisories(s, project, advisories.iloc[100:])
    v2 = export_once(db, ml_env.dataset_dir)
    assert v2.rows == len(advisories) - 100 and v2.total_rows == len(advisories)

    dataset = FeedbackDataset(ml_env.dataset_dir)
    merged = dataset.read()
    assert len(merged) == len(advisories) and merged["issue_id"].is_unique
    by_id = advisories.set_index("id")["severity"]
    assert sorted(merged["label"].value_counts().to_dict().items()) == sorted(by_id.value_counts().to_dict().items())
    assert len(dataset.read("v000001")) == 100
    # partitioned by issue month, one directory per version
    assert any(p.name.startswith("created_month=") for p in dataset.version_dir("v000002").iterdir())
    report = json.loads(Path(v2.report).read_text())
    assert report["success"] is True and report["statistics"]["evaluated_expectations"] >= 20


def test_gx_refuses_corrupted_dataset(tmp_path, db, project, ml_env, advisories):
    from include.db.session import session_scope
    from ml.export import extract_since
    from ml.ingest import ingest_advisories
    from ml.validation import DataValidationError, validate_dataset

    with session_scope() as s:
        ingest_advisories(s, project, advisories)
    good = extract_since(db, 0)
    assert validate_dataset(good, tmp_path / "ok.json").success

    corruptions = {
        "label": lambda f: f.assign(label=f["label"].where(f.index % 7 != 0, "urgent")),
        "message": lambda f: f.assign(message=f["message"].where(f.index % 5 != 0, None)),
        "issue_id": lambda f: pd.concat([f, f.iloc[:3]]),
        "label_share": lambda f: f.assign(label="high"),
        "line": lambda f: f.assign(line=-5.0),
        "columns": lambda f: f.drop(columns=["rule"]).assign(rule_id="x"),
    }
    for name, corrupt in corruptions.items():
        path = tmp_path / f"{name}.json"
        with pytest.raises(DataValidationError) as err:
            validate_dataset(corrupt(good.copy()), path)
        assert path.exists() and json.loads(path.read_text())["success"] is False, name
        assert str(path) in str(err.value)
