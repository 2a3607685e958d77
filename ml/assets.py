"""Airflow Asset names of the learning system (import-light: DAG files read this at parse time)."""

#: Updated by ``ml_feature_export`` each time it publishes a dataset version; schedules ``ml_retrain``.
REVIEW_FEEDBACK_ASSET = "autopr_review_feedback_dataset"
#: Weekly retrain even without new exports (Mondays 03:00 UTC): picks up promotion-rule/setting changes.
WEEKLY_RETRAIN_CRON = "0 3 * * 1"
#: Updated by ``ml_drift_watch`` when the served champion drifted past ``settings.drift_psi_threshold``;
#: also schedules ``ml_retrain`` (whose gate still decides whether there is enough new data to train on).
MODEL_DRIFT_ASSET = "autopr_severity_model_drift"
#: How often ``ml_drift_watch`` checks the served champion.
DRIFT_WATCH_SCHEDULE = "@hourly"
