"""Fixtures for the workflow actions (git_repo, project and github come from tests/support/review_fixtures.py)."""

from __future__ import annotations

import pytest


def make_ctx(event: dict | None = None, upstream: dict | None = None, project: str = "acme"):
    from include.actions import RunContext

    return RunContext(
        project=project,
        workflow_id="pr-review",
        workflow_version=3,
        dag_id="wf_acme_pr_review",
        run_id="manual__2026-01-01T00:00:00+00:00",
        event=event or {},
        upstream=upstream or {},
    )


@pytest.fixture(autouse=True)
def _no_model_registry(monkeypatch, tmp_path):
    """Pin "no model served" (analyser severities): other areas' tests may register a champion in this session."""
    from include.settings import get_settings

    monkeypatch.setenv("AUTOPR_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'no-registry' / 'mlflow.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
