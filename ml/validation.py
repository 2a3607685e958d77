"""The data gate: Great Expectations Core 1.x suite over the exported feedback dataset.

Why this module exists: nothing may train on bad data.  The export DAG runs
:func:`validate_dataset` on the merged dataset it is about to publish and the
retrain DAG runs it again on what it reads from disk; a failure raises
:class:`DataValidationError` carrying the path of the saved GX report (the
validation result as JSON), which the task logs and the run keeps.

The suite checks, in GX's own vocabulary:

* schema — the exact column set;
* allowed values — ``label`` and ``issue_severity`` on the severity scale,
  ``feedback_type`` one of the feedback types;
* ranges — line, PR size, complexity and file size non-negative and bounded;
* null rates — required text never null or empty; at least ``min_labelled``
  of rows carry a label;
* uniqueness — one row per issue;
* label balance — at least two classes, and no class above
  ``max_class_share`` of the labelled rows (a checked ``label_share`` column
  is added to the validated view, not to the data).

An ephemeral GX context is used: no project directory to keep in sync, and
the report is written where the dataset lives.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from include.enums import FeedbackType
from ml.features import ISSUE_COLUMNS, SEVERITY_LABELS

log = logging.getLogger(__name__)

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

#: Columns of the exported dataset (one row per issue, with its latest feedback).
DATASET_COLUMNS: tuple[str, ...] = (
    "issue_id",
    "project",
    "review_id",
    *ISSUE_COLUMNS,
    "issue_severity",
    "feedback_id",
    "feedback_type",
    "corrected_severity",
    "feedback_at",
    "label",
    "helpful",
)
MAX_LINE = 10_000_000
MAX_METRIC = 10_000_000


class DataValidationError(RuntimeError):
    """The dataset failed its expectation suite; ``report_path`` holds the GX result JSON."""

    def __init__(self, failures: list[str], report_path: Path):
        super().__init__(
            f"data validation failed ({len(failures)} expectation(s)): " + "; ".join(failures[:8])
            + f". GX report: {report_path}"
        )
        self.failures, self.report_path = failures, report_path


@dataclass(frozen=True)
class ValidationReport:
    success: bool
    failures: list[str]
    report_path: Path
    statistics: dict[str, Any]


def _suite(min_labelled: float, max_class_share: float):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name="autopr_review_feedback")
    add = suite.add_expectation
    add(gxe.ExpectTableColumnsToMatchSet(column_set=[*DATASET_COLUMNS, "label_share"], exact_match=True))
    add(gxe.ExpectTableRowCountToBeBetween(min_value=1))
    add(gxe.ExpectColumnValuesToBeUnique(column="issue_id"))
    for column in ("issue_id", "project", "message", "rule", "analyzer", "file_path", "created_at",
                   "feedback_id", "feedback_type", "issue_severity"):
        add(gxe.ExpectColumnValuesToNotBeNull(column=column))
    for column in ("message", "rule", "analyzer", "file_path"):
        add(gxe.ExpectColumnValueLengthsToBeBetween(column=column, min_value=1))
    add(gxe.ExpectColumnValuesToBeInSet(column="label", value_set=list(SEVERITY_LABELS)))
    add(gxe.ExpectColumnValuesToBeInSet(column="issue_severity", value_set=list(SEVERITY_LABELS)))
    add(gxe.ExpectColumnValuesToBeInSet(column="corrected_severity", value_set=list(SEVERITY_LABELS)))
    add(gxe.ExpectColumnValuesToBeInSet(column="feedback_type", value_set=[t.value for t in FeedbackType]))
    add(gxe.ExpectColumnValuesToBeInSet(column="helpful", value_set=[0.0, 1.0]))
    add(gxe.ExpectColumnValuesToBeBetween(column="line", min_value=0, max_value=MAX_LINE))
    for column in ("pr_size", "complexity", "file_lines"):
        add(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=MAX_METRIC))
    add(gxe.ExpectColumnProportionOfNonNullValuesToBeBetween(column="label", min_value=min_labelled))
    add(gxe.ExpectColumnUniqueValueCountToBeBetween(column="label", min_value=2))
    add(gxe.ExpectColumnMaxToBeBetween(column="label_share", max_value=max_class_share))
    return suite


def _validated_view(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame plus ``label_share`` (share of the row's label among labelled rows) for the balance check."""
    view = frame.copy()
    labels = view["label"] if "label" in view.columns else pd.Series(index=view.index, dtype=object)
    shares = labels.value_counts(normalize=True)
    view["label_share"] = labels.map(shares).astype("float64")
    # GX's pandas engine compares timestamps poorly across tz; the checks only need presence.
    for column in ("created_at", "feedback_at"):
        if column in view.columns:
            view[column] = view[column].astype("string")
    return view


def _describe(result: dict[str, Any]) -> str:
    config = result.get("expectation_config", {})
    kwargs = {k: v for k, v in config.get("kwargs", {}).items() if k != "batch_id"}
    observed = result.get("result", {})
    detail = observed.get("observed_value", observed.get("partial_unexpected_list", observed.get("unexpected_count")))
    return f"{config.get('type')}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) observed {detail!r}"


def validate_dataset(
    frame: pd.DataFrame,
    report_path: Path,
    *,
    min_labelled: float = 0.05,
    max_class_share: float = 0.95,
    raise_on_failure: bool = True,
) -> ValidationReport:
    """Run the suite on ``frame``; always write the GX result JSON to ``report_path``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # task logs, not a terminal
    asset = context.data_sources.add_pandas("autopr").add_dataframe_asset("review_feedback")
    batch_definition = asset.add_batch_definition_whole_dataframe("export")
    suite = context.suites.add(_suite(min_labelled, max_class_share))
    result = batch_definition.get_batch(batch_parameters={"dataframe": _validated_view(frame)}).validate(
        suite, result_format="SUMMARY"
    )
    payload = result.to_json_dict()
    report_path = Path(report_path)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(payload, indent=2, default=str))
    failures = [_describe(r) for r in payload["results"] if not r.get("success")]
    report = ValidationReport(success=bool(result.success), failures=failures, report_path=report_path,
                              statistics=payload.get("statistics", {}))
    if report.success:
        log.info("GX suite passed on %d rows (%s); report %s", len(frame), report.statistics, report_path)
    else:
        log.error("GX suite FAILED on %d rows: %s; report %s", len(frame), failures, report_path)
        if raise_on_failure:
            raise DataValidationError(failures, report_path)
    return report
