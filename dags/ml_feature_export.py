"""Feedback → features → GX-validated, versioned Parquet (emits the review-feedback Asset).

extract (rows whose latest feedback is newer than the watermark, staged to
Parquet) → validate (Great Expectations Core suite on the dataset as it
would be after publishing; a failure stops the run and the GX report path is
in the error and the log) → publish (a new immutable dataset version, the
Asset event carries its version, row counts and content hash).
Logic lives in ``ml.export`` / ``ml.validation``; this file only wires it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from ml.assets import REVIEW_FEEDBACK_ASSET

review_feedback = Asset(REVIEW_FEEDBACK_ASSET)


@dag(
    dag_id="ml_feature_export",
    schedule="@hourly",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # versions are numbered in order; one export at a time
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    tags=["autopr", "ml"],
    doc_md=__doc__,
)
def ml_feature_export():
    @task
    def extract() -> dict:
        """Stage issues whose latest feedback arrived since the last export; skip when none."""
        from include.db.session import get_engine
        from include.settings import get_settings
        from ml.export import FeedbackDataset, stage_new_rows

        token = get_current_context()["run_id"].replace(":", "_").replace("+", "_")
        staged = stage_new_rows(get_engine(), FeedbackDataset(get_settings().dataset_dir), token)
        if staged["rows"] == 0:
            raise AirflowSkipException(f"no new feedback since watermark {staged['since_watermark']}")
        return staged

    @task(retries=0)  # bad data stays bad: fail at once, do not retry
    def validate(staged: dict) -> dict:
        """Run the GX suite; raises DataValidationError (with the report path) on failure."""
        from include.settings import get_settings
        from ml.export import FeedbackDataset, validate_staged

        return validate_staged(FeedbackDataset(get_settings().dataset_dir), staged["staging"])

    @task(outlets=[review_feedback])
    def publish(staged: dict, checked: dict, *, outlet_events=None) -> dict:
        """Write the new dataset version and announce it through the Asset."""
        from dataclasses import asdict

        from include.settings import get_settings
        from ml.export import FeedbackDataset, publish_staged

        run_id = get_current_context()["run_id"]
        info = asdict(publish_staged(FeedbackDataset(get_settings().dataset_dir), staged["staging"],
                                     checked["report"], run_id=run_id))
        outlet_events[review_feedback].extra = {
            k: info[k] for k in ("version", "rows", "total_rows", "labelled_rows", "hash", "report")
        }
        return info

    staged = extract()
    publish(staged, validate(staged))


ml_feature_export()
