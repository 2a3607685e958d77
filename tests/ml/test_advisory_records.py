"""``ml.ingest.advisory_records`` (benchmarks, serving tests) gives a model the input the DB ingest path gives it."""

from __future__ import annotations

import pandas as pd


def test_advisory_records_equal_what_ingest_and_export_store(db, project, ml_env):
    from include.db.session import session_scope
    from ml.export import FeedbackDataset, export_once
    from ml.features import ISSUE_COLUMNS, issues_frame
    from ml.ingest import advisory_records, advisory_repository, ingest_advisories, load_advisories

    advisories = load_advisories().groupby("source").head(4).reset_index(drop=True)
    with session_scope() as s:
        ingest_advisories(s, project, advisories)
    export_once(db, ml_env.dataset_dir)
    stored = FeedbackDataset(ml_env.dataset_dir).read().sort_values("issue_id").reset_index(drop=True)
    records = advisory_records(advisories)
    assert [r["repository"] for r in records] == [advisory_repository(row) for row in advisories.to_dict("records")]
    assert [r["repository"] for r in records] == advisories["package"].astype(str).tolist()
    pd.testing.assert_frame_equal(stored.loc[:, list(ISSUE_COLUMNS)], issues_frame(records))
    assert stored["label"].tolist() == [r["label"] for r in records]
