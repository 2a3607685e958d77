"""Fixtures for the workflow actions (git_repo, project and github come from tests/support/review_fixtures.py)."""

from __future__ import annotations

from tests.support.no_registry import no_model_registry  # noqa: F401 (autouse fixture)


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
