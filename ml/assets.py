"""Airflow Asset names of the learning system (import-light: DAG files read this at parse time)."""

#: Updated by ``ml_feature_export`` each time it publishes a dataset version; schedules ``ml_retrain``.
REVIEW_FEEDBACK_ASSET = "autopr_review_feedback_dataset"
#: Weekly retrain even without new exports (Mondays 03:00 UTC): picks up promotion-rule/setting changes.
WEEKLY_RETRAIN_CRON = "0 3 * * 1"
