"""A published feedback dataset built from the shared advisories without the app database.

For the retrain tests that need a dataset version on disk (``ml.export.FeedbackDataset``)
but not the ingest path: rows shaped like the export's (``ml.validation.DATASET_COLUMNS``),
each advisory labelled with its CVSS band as a reviewer's corrected severity.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def advisory_sample(per_class: int = 40, seed: int = 1) -> pd.DataFrame:
    """A class-stratified subsample of the advisories, oldest first."""
    from ml.ingest import load_advisories

    frame = load_advisories()
    picked = frame.sample(frac=1.0, random_state=seed).groupby("severity").head(per_class)
    return picked.sort_values(["published", "id"]).reset_index(drop=True)


def dataset_rows(advisories: pd.DataFrame, *, first_id: int = 1, project: str = "advisories") -> pd.DataFrame:
    """Export-shaped rows (DATASET_COLUMNS) for ``advisories``; issue and feedback ids from ``first_id``."""
    from ml.features import issues_frame
    from ml.ingest import advisory_records
    from ml.validation import DATASET_COLUMNS

    records = advisory_records(advisories)
    frame = issues_frame(records)
    ids = np.arange(first_id, first_id + len(frame))
    labels = [r["label"] for r in records]
    frame["issue_id"] = ids
    frame["project"] = project
    frame["review_id"] = ids
    frame["issue_severity"] = labels
    frame["feedback_id"] = ids
    frame["feedback_type"] = "helpful"
    frame["corrected_severity"] = labels
    frame["feedback_at"] = pd.Timestamp("2026-01-01", tz="UTC")
    frame["label"] = labels
    frame["helpful"] = 1.0
    return frame.loc[:, list(DATASET_COLUMNS)]


def publish(dataset_dir: Path, rows: pd.DataFrame):
    """Publish ``rows`` as the next dataset version (what the export DAG's last task does)."""
    from ml.export import FeedbackDataset

    dataset = FeedbackDataset(dataset_dir)
    return dataset.publish(rows, report_path=dataset.report_path(dataset.next_version()))
