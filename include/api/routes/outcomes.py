"""Per-workflow outcomes over HTTP: runs, success rate, duration percentiles, findings per run, feedback shares.

The routes translate the read model :mod:`include.workflows.outcomes` (where the numbers come from and what each
one means is said there) into responses; they read the app database only, never Airflow, so they answer even while
Airflow is down.  Viewer role in the project; a non-member gets 404, as everywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from include.api.deps import CurrentUser, DbSession, authorize
from include.api.errors import NotFound, problem_responses
from include.api.types import ProjectSlug, WorkflowSlug
from include.enums import Role
from include.workflows.outcomes import project_outcomes, workflow_outcomes

router = APIRouter(prefix="/api/v1/projects/{project}", tags=["workflows"])

Since = Annotated[
    AwareDatetime | None,
    Query(description="Only runs that started at or after this time (ISO 8601 with a time zone, e.g. "
                      "2026-12-01T00:00:00Z)"),
]  # fmt: skip


# --- response models ------------------------------------------------------------------------------


class DurationStats(BaseModel):
    p50: float | None = Field(description="Median duration of finished runs, seconds")
    p95: float | None = Field(description="95th percentile (linear interpolation between the closest ranks), seconds")
    max: float | None = Field(description="Longest finished run, seconds")


class FeedbackStats(BaseModel):
    """Explicit feedback only (a person's word); per finding its latest explicit feedback counts."""

    findings_with_feedback: int = Field(description="Findings of finished runs with any explicit feedback")
    helpful: int = Field(description="...whose latest explicit feedback is helpful or good_catch")
    false_positive: int = Field(description="...whose latest explicit feedback is false_positive")
    helpful_share: float | None = Field(description="helpful / findings_with_feedback")
    false_positive_share: float | None = Field(description="false_positive / findings_with_feedback")


class OutcomeStats(BaseModel):
    runs: int = Field(description="DAG runs (every state)")
    succeeded: int
    failed: int
    in_progress: int = Field(description="Runs not finished yet (queued, running)")
    success_rate: float | None = Field(description="succeeded / (succeeded + failed); null before a run finished")
    duration_seconds: DurationStats
    reviewed_runs: int = Field(description="Finished runs that stored a review")
    findings: int = Field(description="Findings the finished runs' reviews stored")
    findings_per_run: float | None = Field(description="findings / finished runs")
    feedback: FeedbackStats


class VersionOutcome(OutcomeStats):
    version: int | None = Field(description="The workflow version the runs executed (null: not known)")
    saved_at: datetime | None = Field(description="When that version was saved")


class WorkflowOutcomeSummary(BaseModel):
    workflow: str = Field(description="Workflow id (slug)")
    name: str
    current_version: int
    total: OutcomeStats


class WorkflowOutcomeDetail(WorkflowOutcomeSummary):
    versions: list[VersionOutcome] = Field(description="One row per version that ran, newest first")


class ProjectOutcomes(BaseModel):
    project: str
    since: datetime | None
    workflows: list[WorkflowOutcomeSummary] = Field(description="Every workflow of the project (not deleted), by id")


class WorkflowOutcomes(WorkflowOutcomeDetail):
    project: str
    since: datetime | None


# --- routes ------------------------------------------------------------------------------------------


@router.get("/outcomes", response_model=ProjectOutcomes, summary="Outcomes of every workflow of a project",
            description="Per workflow: runs, success rate, duration p50/p95/max, findings per run and the share of"
                        " findings reviewers marked helpful or false positive (explicit feedback only).",
            responses=problem_responses(401, 404, 422))  # fmt: skip
def get_project_outcomes(project: ProjectSlug, user: CurrentUser, session: DbSession,
                         since: Since = None) -> ProjectOutcomes:
    authorize(session, user, project, Role.viewer)
    rows = project_outcomes(session, project, since=since)
    return ProjectOutcomes(project=project, since=since,
                           workflows=[WorkflowOutcomeSummary(**row.as_dict()) for row in rows])  # fmt: skip


@router.get("/workflows/{workflow}/outcomes", response_model=WorkflowOutcomes,
            summary="Outcomes of one workflow, in all and per version",
            description="The numbers of `GET /projects/{project}/outcomes` for one workflow, plus one row per"
                        " workflow version that ran.",
            responses=problem_responses(401, 404, 422))  # fmt: skip
def get_workflow_outcomes(project: ProjectSlug, workflow: WorkflowSlug, user: CurrentUser, session: DbSession,
                          since: Since = None) -> WorkflowOutcomes:
    authorize(session, user, project, Role.viewer)
    found = workflow_outcomes(session, project, workflow, since=since)
    if found is None:
        raise NotFound(f"Workflow {workflow!r} not found in project {project!r}")
    return WorkflowOutcomes(project=project, since=since, **found.as_dict())
