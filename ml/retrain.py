"""The retrain step: dataset version → GX re-check → frozen holdout → candidates → ``challenger``.

Why this module exists: the retrain DAG's tasks are one call each, and the
same calls run in tests and benchmarks without Airflow.

* :func:`new_labelled_rows` — how many labelled rows the latest dataset
  version has beyond what the last training run used (the short-circuit gate);
* :func:`retrain` — re-validates the dataset read back from disk (a tampered
  or corrupted Parquet never trains), splits off the frozen holdout (stable
  hash of the issue, ``settings.ml_holdout_percent``), trains every candidate,
  logs them to MLflow and registers the best as ``challenger``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from include.settings import Settings, get_settings
from ml.evaluation import holdout_hash, holdout_split
from ml.export import FeedbackDataset
from ml.registry import last_training_labelled_rows, log_candidates
from ml.training import subsample_newest, train_candidates
from ml.validation import validate_dataset

log = logging.getLogger(__name__)

#: Newest labelled rows used for fitting (bounds training time; holdout is never subsampled away).
#: 30k rows keep the loop under 3 minutes for 100k feedback rows on 2 cores (bench_learning_loop.py).
DEFAULT_MAX_TRAIN_ROWS = 30_000


def new_labelled_rows(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    latest = FeedbackDataset(settings.dataset_dir).latest()
    labelled = latest.labelled_rows if latest else 0
    used = last_training_labelled_rows(settings)
    return {
        "dataset_version": latest.version if latest else None,
        "labelled_rows": labelled,
        "used_by_last_training": used,
        "new_labelled_rows": max(0, labelled - used),
        "min_new_rows": settings.retrain_min_new_rows,
    }


def retrain(*, airflow_run_id: str | None = None, settings: Settings | None = None,
            max_train_rows: int | None = DEFAULT_MAX_TRAIN_ROWS, candidates: list[str] | None = None
            ) -> dict[str, Any]:
    settings = settings or get_settings()
    dataset = FeedbackDataset(settings.dataset_dir)
    latest = dataset.latest()
    if latest is None:
        raise LookupError(f"no exported dataset under {dataset.root}: run the export DAG first")
    frame = dataset.read(latest.version)
    # The export validated what it wrote; re-validate what we read (disk corruption, manual edits).
    report = validate_dataset(frame, dataset.root / "reports" / f"{latest.version}.retrain.gx.json")
    labelled = frame[frame["label"].notna()].reset_index(drop=True)
    train, holdout = holdout_split(labelled, settings.ml_holdout_percent)
    if holdout["label"].nunique() < 2 or train["label"].nunique() < 2:
        raise ValueError(
            f"dataset {latest.version}: need ≥2 severity classes in train and holdout "
            f"(train {train['label'].value_counts().to_dict()}, holdout {holdout['label'].value_counts().to_dict()})"
        )
    digest = holdout_hash(holdout)
    holdout_path = dataset.root / "holdouts" / f"{latest.version}-{digest[:16]}.parquet"
    holdout_path.parent.mkdir(parents=True, exist_ok=True)
    holdout.to_parquet(holdout_path, index=False)
    fit_rows = subsample_newest(train, max_train_rows)
    log.info("training on %d of %d labelled rows (holdout %d, hash %s)", len(fit_rows), len(train), len(holdout),
             digest[:12])
    trained = train_candidates(fit_rows, holdout, candidates)
    summary = log_candidates(
        trained, train_rows=len(fit_rows), holdout=holdout, holdout_hash=digest, holdout_path=holdout_path,
        dataset={"version": latest.version, "hash": latest.hash, "labelled_rows": latest.labelled_rows,
                 "report": str(report.report_path)},
        airflow_run_id=airflow_run_id, settings=settings,
    )
    summary.update({"holdout_path": str(holdout_path), "holdout_hash": digest, "dataset_version": latest.version,
                    "dataset_hash": latest.hash})
    return summary


def holdout_of(summary: dict[str, Any]) -> Path:
    return Path(summary["holdout_path"])
