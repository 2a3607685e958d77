"""Documentation derived from code stays derived: the README's settings table is the Settings class."""

from __future__ import annotations

from include import settings_doc
from include.settings import Settings


def test_readme_settings_table_is_generated_from_settings():
    readme = settings_doc.README.read_text()
    assert settings_doc.render(readme) == readme, "run: .venv/bin/python -m include.settings_doc"


def test_every_setting_has_a_row_that_says_what_it_is():
    rows = settings_doc.rows()
    assert [var for var, _, _ in rows] == [f"AUTOPR_{name.upper()}" for name in Settings.model_fields]
    assert [var for var, _, meaning in rows if not meaning] == []


def test_computed_defaults_are_spelled_out_not_read_off_this_machine():
    defaults = {var: default for var, default, _ in settings_doc.rows()}
    assert defaults["AUTOPR_AIRFLOW_PARALLELISM"] == "twice the host's cores, at least 4"
    assert defaults["AUTOPR_CELERY_WORKER_CONCURRENCY"] == "the host's cores, at least 2"
    assert defaults["AUTOPR_STATE_DIR"] == "`.autopr`"
