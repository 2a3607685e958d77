"""Feedback → a partitioned, versioned Parquet dataset (the export DAG's library).

Why this module exists: training must be reproducible ("which rows did model
v7 learn from?") and incremental (a week of feedback must not re-export a
year).  So the export is append-only:

* :func:`extract_since` reads issues whose *latest* feedback is newer than the
  watermark — the highest ``ml_feedback.id`` already exported (ids, not
  timestamps: imported feedback can be back-dated, ids only grow);
* :class:`FeedbackDataset` writes each export as an immutable version
  directory ``version=vNNNNNN/created_month=YYYY-MM/*.parquet`` (pyarrow,
  hive partitioning) and records it in ``manifest.json`` with its row count,
  watermark, content hash and GX report;
* dataset version ``vN`` means "versions v1..vN merged, one row per issue,
  its latest feedback wins" — :meth:`FeedbackDataset.read` rebuilds it.

Columns are :data:`ml.validation.DATASET_COLUMNS`: the model input columns
(:data:`ml.features.ISSUE_COLUMNS`) plus ids, the feedback, the severity
``label`` (see :func:`include.reviews.feedback.severity_label`) and ``helpful``
(1 helpful/good catch, 0 not helpful/false positive, null otherwise).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from include.db.models import MLFeedback, Project, ReviewIssue, ReviewSession
from include.reviews.feedback import HELPFUL_TYPES, UNHELPFUL_TYPES, severity_label
from ml.features import ISSUE_COLUMNS, normalise_frame
from ml.validation import DATASET_COLUMNS, validate_dataset

log = logging.getLogger(__name__)

DATASET_NAME = "review_feedback"
PARTITION_COLUMN = "created_month"
_METRICS = ("pr_size", "complexity", "file_lines")


def _arrow_schema():
    import pyarrow as pa

    types: dict[str, Any] = {
        "issue_id": pa.int64(), "project": pa.string(), "review_id": pa.int64(),
        "message": pa.string(), "rule": pa.string(), "analyzer": pa.string(), "file_path": pa.string(),
        "line": pa.float64(), "repository": pa.string(), "pr_size": pa.float64(), "complexity": pa.float64(),
        "file_lines": pa.float64(), "created_at": pa.timestamp("us"), "issue_severity": pa.string(),
        "feedback_id": pa.int64(), "feedback_type": pa.string(), "corrected_severity": pa.string(),
        "feedback_at": pa.timestamp("us", tz="UTC"), "label": pa.string(), "helpful": pa.float64(),
    }
    assert tuple(types) == DATASET_COLUMNS, "schema out of sync with DATASET_COLUMNS"
    return pa.schema([(name, types[name]) for name in DATASET_COLUMNS])


def _value(enum_or_str: Any) -> Any:
    return getattr(enum_or_str, "value", enum_or_str)


def _metric(context: dict | None, stats: dict | None, name: str) -> float:
    for source in (context or {}, stats or {}):
        value = source.get(name)
        if value not in (None, ""):
            try:
                return float(value)
            except (TypeError, ValueError):
                return float("nan")
    return float("nan")


def extract_since(engine: Engine, watermark: int = 0, *, project: str | None = None,
                  strengths: tuple[str, ...] = ("explicit",)) -> pd.DataFrame:
    """Issues whose latest feedback id is above ``watermark``, one row each (DATASET_COLUMNS).

    Only feedback of ``strengths`` counts: by default what reviewers said, not what the
    platform inferred (``weak`` rows: a resolved thread, a fixed finding), so weak signals
    never become labels unless asked for.
    """
    latest = (
        select(MLFeedback.issue_id.label("issue_id"), func.max(MLFeedback.id).label("feedback_id"))
        .where(MLFeedback.strength.in_(strengths))
        .group_by(MLFeedback.issue_id)
        .having(func.max(MLFeedback.id) > watermark)
        .subquery()
    )
    stmt = (
        select(
            ReviewIssue.id, Project.slug, ReviewSession.id, ReviewIssue.message, ReviewIssue.rule,
            ReviewIssue.analyzer, ReviewIssue.file_path, ReviewIssue.line, ReviewSession.repository,
            ReviewIssue.context, ReviewSession.stats, ReviewIssue.created_at, ReviewIssue.severity,
            MLFeedback.id, MLFeedback.feedback_type, MLFeedback.corrected_severity, MLFeedback.created_at,
        )
        .join(latest, latest.c.issue_id == ReviewIssue.id)
        .join(MLFeedback, MLFeedback.id == latest.c.feedback_id)
        .join(ReviewSession, ReviewSession.id == ReviewIssue.session_id)
        .join(Project, Project.id == ReviewSession.project_id)
        .order_by(MLFeedback.id)
    )
    if project is not None:
        stmt = stmt.where(Project.slug == project)
    columns: dict[str, list[Any]] = {name: [] for name in DATASET_COLUMNS}
    with engine.connect() as conn:
        for (issue_id, slug, review_id, message, rule, analyzer, file_path, line, repository, context, stats,
             created_at, severity, feedback_id, feedback_type, corrected, feedback_at) in conn.execute(stmt):
            severity, feedback_type, corrected = _value(severity), _value(feedback_type), _value(corrected)
            columns["issue_id"].append(issue_id)
            columns["project"].append(slug)
            columns["review_id"].append(review_id)
            columns["message"].append(message)
            columns["rule"].append(rule)
            columns["analyzer"].append(analyzer)
            columns["file_path"].append(file_path)
            columns["line"].append(line)
            columns["repository"].append(repository)
            for name in _METRICS:
                columns[name].append(_metric(context, stats, name))
            columns["created_at"].append(created_at)
            columns["issue_severity"].append(severity)
            columns["feedback_id"].append(feedback_id)
            columns["feedback_type"].append(feedback_type)
            columns["corrected_severity"].append(corrected)
            columns["feedback_at"].append(feedback_at)
            columns["label"].append(severity_label(severity, feedback_type, corrected))
            columns["helpful"].append(1.0 if feedback_type in {t.value for t in HELPFUL_TYPES}
                                      else 0.0 if feedback_type in {t.value for t in UNHELPFUL_TYPES} else None)
    return conform(pd.DataFrame(columns, columns=list(DATASET_COLUMNS)))


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce a dataset frame to the contract's dtypes (model columns via ml.features)."""
    out = frame.loc[:, list(DATASET_COLUMNS)].copy()
    out[list(ISSUE_COLUMNS)] = normalise_frame(out)
    for name in ("issue_id", "review_id", "feedback_id"):
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("Int64")
    out["feedback_at"] = pd.to_datetime(out["feedback_at"], utc=True, errors="coerce", format="mixed")
    out["helpful"] = pd.to_numeric(out["helpful"], errors="coerce").astype("float64")
    for name in ("project", "issue_severity", "feedback_type", "corrected_severity", "label"):
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out.reset_index(drop=True)


def frame_hash(frame: pd.DataFrame) -> str:
    """Content hash of a dataset frame, independent of row order (sha256 of per-row hashes sorted by issue)."""
    ordered = frame.sort_values("issue_id", kind="stable").reset_index(drop=True)
    rows = pd.util.hash_pandas_object(ordered.astype(str), index=False).to_numpy()
    return hashlib.sha256(np.ascontiguousarray(rows).tobytes()).hexdigest()


def merge_latest(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate versions; per issue the row with the highest feedback id wins."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return conform(pd.DataFrame(columns=list(DATASET_COLUMNS)))
    merged = pd.concat(frames, ignore_index=True)
    merged = merged.sort_values(["issue_id", "feedback_id"], kind="stable")
    merged = merged.drop_duplicates("issue_id", keep="last")
    return conform(merged.sort_values("feedback_id", kind="stable"))


@dataclass(frozen=True)
class DatasetVersion:
    version: str
    rows: int  # rows added by this export
    total_rows: int  # rows of the merged dataset at this version
    labelled_rows: int
    watermark: int
    hash: str  # content hash of the merged dataset at this version
    report: str  # GX report path
    created_at: str
    run_id: str | None = None


class FeedbackDataset:
    """The versioned Parquet dataset under ``<dataset_dir>/review_feedback``."""

    def __init__(self, dataset_dir: Path | str):
        self.root = Path(dataset_dir) / DATASET_NAME

    # -- manifest ---------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def versions(self) -> list[DatasetVersion]:
        if not self.manifest_path.exists():
            return []
        data = json.loads(self.manifest_path.read_text())
        return [DatasetVersion(**v) for v in data.get("versions", [])]

    def latest(self) -> DatasetVersion | None:
        versions = self.versions()
        return versions[-1] if versions else None

    def watermark(self) -> int:
        latest = self.latest()
        return latest.watermark if latest else 0

    def next_version(self) -> str:
        return f"v{len(self.versions()) + 1:06d}"

    def _write_manifest(self, versions: list[DatasetVersion]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps({"dataset": DATASET_NAME, "versions": [asdict(v) for v in versions]}, indent=2))
        os.replace(tmp, self.manifest_path)  # atomic: readers see the old or the new manifest

    # -- data -------------------------------------------------------------------------------
    def version_dir(self, version: str) -> Path:
        return self.root / f"version={version}"

    def read_version_rows(self, version: str) -> pd.DataFrame:
        """Only the rows one export added (its own directory)."""
        path = self.version_dir(version)
        if not path.exists() or not any(path.rglob("*.parquet")):
            return conform(pd.DataFrame(columns=list(DATASET_COLUMNS)))
        frame = pd.read_parquet(path, schema=_arrow_schema())
        return conform(frame)

    def read(self, version: str | None = None) -> pd.DataFrame:
        """The merged dataset at ``version`` (default: latest): one row per issue, latest feedback."""
        names = [v.version for v in self.versions()]
        if version is not None:
            if version not in names:
                raise KeyError(f"dataset version {version!r} not found; have {names[-5:]}")
            names = names[: names.index(version) + 1]
        return merge_latest([self.read_version_rows(name) for name in names])

    def staging_path(self, token: str) -> Path:
        return self.root / "_staging" / f"{token}.parquet"

    def report_path(self, version: str) -> Path:
        return self.root / "reports" / f"{version}.gx.json"

    def publish(self, new_rows: pd.DataFrame, *, report_path: Path, run_id: str | None = None) -> DatasetVersion:
        """Write ``new_rows`` as the next immutable version and record it in the manifest."""
        import pyarrow as pa
        import pyarrow.dataset as ds

        versions = self.versions()
        version = f"v{len(versions) + 1:06d}"
        new_rows = conform(new_rows)
        merged = merge_latest([self.read(versions[-1].version) if versions else new_rows.iloc[0:0], new_rows])
        table_frame = new_rows.copy()
        table_frame[PARTITION_COLUMN] = table_frame["created_at"].dt.strftime("%Y-%m").fillna("unknown")
        schema = _arrow_schema().append(pa.field(PARTITION_COLUMN, pa.string()))
        table = pa.Table.from_pandas(table_frame, schema=schema, preserve_index=False)
        target = self.version_dir(version)
        tmp_target = self.root / f".tmp-{version}-{uuid.uuid4().hex}"
        ds.write_dataset(table, tmp_target, format="parquet", partitioning=[PARTITION_COLUMN],
                         partitioning_flavor="hive", existing_data_behavior="error",
                         basename_template="part-{i}.parquet")
        if target.exists():
            shutil.rmtree(tmp_target, ignore_errors=True)
            raise FileExistsError(f"dataset version {version} already exists at {target}")
        os.replace(tmp_target, target)
        info = DatasetVersion(
            version=version,
            rows=len(new_rows),
            total_rows=len(merged),
            labelled_rows=int(merged["label"].notna().sum()),
            watermark=int(max(new_rows["feedback_id"].max(), self.watermark())) if len(new_rows) else self.watermark(),
            hash=frame_hash(merged),
            report=str(report_path),
            created_at=datetime.now(UTC).isoformat(),
            run_id=run_id,
        )
        self._write_manifest([*versions, info])
        log.info("published %s: %d new rows, %d total (%d labelled), hash %s", version, info.rows,
                 info.total_rows, info.labelled_rows, info.hash[:12])
        return info


# ------------------------------------------------------------------------------------------
# The three export steps (what the DAG's tasks call)
# ------------------------------------------------------------------------------------------
def stage_new_rows(engine: Engine, dataset: FeedbackDataset, token: str) -> dict[str, Any]:
    """Extract rows newer than the watermark into a staging Parquet file."""
    watermark = dataset.watermark()
    rows = extract_since(engine, watermark)
    path = dataset.staging_path(token)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows.to_parquet(path, index=False, schema=_arrow_schema())
    log.info("staged %d rows with feedback after id %d into %s", len(rows), watermark, path)
    return {"staging": str(path), "rows": len(rows), "since_watermark": watermark}


def validate_staged(dataset: FeedbackDataset, staging: str | Path) -> dict[str, Any]:
    """GX-validate the dataset as it would be after publishing the staged rows (raises on failure)."""
    new_rows = conform(pd.read_parquet(staging))
    latest = dataset.latest()
    merged = merge_latest([dataset.read(latest.version) if latest else new_rows.iloc[0:0], new_rows])
    report = validate_dataset(merged, dataset.report_path(dataset.next_version()))
    return {"report": str(report.report_path), "rows": len(merged), "statistics": report.statistics}


def publish_staged(dataset: FeedbackDataset, staging: str | Path, report: str | Path,
                   run_id: str | None = None) -> DatasetVersion:
    new_rows = conform(pd.read_parquet(staging))
    info = dataset.publish(new_rows, report_path=Path(report), run_id=run_id)
    Path(staging).unlink(missing_ok=True)
    return info


def export_once(engine: Engine, dataset_dir: Path | str, run_id: str | None = None) -> DatasetVersion | None:
    """The whole export in one call (CLI, benchmarks): stage → validate → publish; None if nothing new."""
    dataset = FeedbackDataset(dataset_dir)
    staged = stage_new_rows(engine, dataset, uuid.uuid4().hex)
    if staged["rows"] == 0:
        Path(staged["staging"]).unlink(missing_ok=True)
        return None
    checked = validate_staged(dataset, staged["staging"])
    return publish_staged(dataset, staged["staging"], checked["report"], run_id=run_id)
