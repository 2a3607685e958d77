"""The retrain step: dataset version → GX re-check → frozen holdout → candidates → ``challenger``.

Why this module exists: the retrain DAG's tasks are one call each, and the
same calls run in tests and benchmarks without Airflow.

* :func:`new_labelled_rows` — how many labelled rows the latest dataset
  version has beyond what the last training run used (the short-circuit gate);
* :func:`retrain` — re-validates the dataset read back from disk (a tampered
  or corrupted Parquet never trains), splits off the frozen holdout
  (:func:`frozen_holdout`: ``settings.ml_holdout_percent`` of the labelled rows,
  the newest by time or a stable hash per ``settings.ml_holdout_strategy``),
  trains every candidate — the plain baseline always among them — and
  registers as ``challenger`` the one best on the newest training rows
  (``ml.training.train_candidates``), never the one best on the holdout: the
  holdout only judges challenger against champion (``ml.registry``).  When the
  validation slice's label mix moved past ``settings.ml_prior_shift_threshold``
  from the training rows' and the adjustment does not lower validation
  macro-F1, the challenger's probabilities are moved to the recent class
  priors inside its Pipeline (``ml.priors``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from include.settings import Settings, get_settings
from ml.evaluation import holdout_hash, holdout_split, split_by_ids
from ml.export import FeedbackDataset
from ml.registry import last_training_labelled_rows, log_candidates
from ml.training import subsample_newest, train_candidates
from ml.validation import validate_dataset

log = logging.getLogger(__name__)

#: Newest labelled rows used for fitting (bounds training time; holdout is never subsampled away).
#: 30k rows keep the loop under 3 minutes for 100k feedback rows on 2 cores (bench_learning_loop.py).
DEFAULT_MAX_TRAIN_ROWS = 30_000
#: Newest rows each candidate's hyper-parameter tuning fits on (one fit per setting and inner cut).
DEFAULT_MAX_TUNE_ROWS = 4_000


def frozen_holdout(dataset: FeedbackDataset, version: str, labelled: pd.DataFrame, settings: Settings
                   ) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """(train, holdout, holdout file) for one dataset version, the same every time that version is trained.

    The first retrain of a version writes its holdout under
    ``<dataset>/holdouts/<version>-<strategy><percent>.parquet``; later ones
    read the issue ids back from that file instead of splitting again, so the
    holdout (and its hash) of a dataset version never changes — not with a code
    change, nor with a re-run — and champion and challenger are always judged
    on the same rows.
    """
    strategy, percent = settings.ml_holdout_strategy, settings.ml_holdout_percent
    path = dataset.root / "holdouts" / f"{version}-{strategy}{percent}.parquet"
    if path.exists():
        train, holdout = split_by_ids(labelled, pd.read_parquet(path, columns=["issue_id"])["issue_id"])
        return train, holdout, path
    train, holdout = holdout_split(labelled, percent, strategy)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    holdout.to_parquet(scratch, index=False)
    os.replace(scratch, path)  # atomic: a concurrent retrain reads a whole file or none
    return train, holdout, path


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
            max_train_rows: int | None = DEFAULT_MAX_TRAIN_ROWS, candidates: list[str] | None = None,
            max_tune_rows: int | None = DEFAULT_MAX_TUNE_ROWS) -> dict[str, Any]:
    """Train the candidates on the latest dataset version and register the validation winner as ``challenger``.

    ``candidates`` names the candidates to train (default: all of
    ``ml.training.CANDIDATES``); the plain baseline is added when missing.
    """
    settings = settings or get_settings()
    dataset = FeedbackDataset(settings.dataset_dir)
    latest = dataset.latest()
    if latest is None:
        raise LookupError(f"no exported dataset under {dataset.root}: run the export DAG first")
    frame = dataset.read(latest.version)
    # The export validated what it wrote; re-validate what we read (disk corruption, manual edits).
    report = validate_dataset(frame, dataset.root / "reports" / f"{latest.version}.retrain.gx.json")
    labelled = frame[frame["label"].notna()].reset_index(drop=True)
    train, holdout, holdout_path = frozen_holdout(dataset, latest.version, labelled, settings)
    if holdout["label"].nunique() < 2 or train["label"].nunique() < 2:
        raise ValueError(
            f"dataset {latest.version}: need ≥2 severity classes in train and holdout "
            f"(train {train['label'].value_counts().to_dict()}, holdout {holdout['label'].value_counts().to_dict()})"
        )
    digest = holdout_hash(holdout)
    fit_rows = subsample_newest(train, max_train_rows)
    log.info("training on %d of %d labelled rows (holdout %d by %s, hash %s)", len(fit_rows), len(train),
             len(holdout), settings.ml_holdout_strategy, digest[:12])
    trained = train_candidates(fit_rows, holdout, candidates, validation_percent=settings.ml_validation_percent,
                               max_tune_rows=max_tune_rows, tune=settings.ml_tune,
                               prior_shift_threshold=settings.ml_prior_shift_threshold)
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
