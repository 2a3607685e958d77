"""Learning metrics of a project: feedback, precision, severity accuracy, model versions, A/B arms.

``GET`` computes them from the app database (viewer role); ``POST .../mlflow``
also records them as an MLflow run so they show up over time in the MLflow UI
(editor role, since it writes).  Heavy imports stay inside the handlers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from include.api.deps import CurrentUser, DbSession, authorize
from include.api.errors import ServiceUnavailable, problem_responses
from include.api.types import ProjectSlug
from include.enums import Role

router = APIRouter(prefix="/api/v1/projects/{project}/learning", tags=["learning"])


class SeverityAccuracy(BaseModel):
    accuracy: float
    n: int = Field(description="Issues of this true severity whose predicted severity could be judged")


class FeedbackSummary(BaseModel):
    """The numbers every slice (all feedback, one model version, one A/B arm) reports."""

    feedback: int
    feedback_counts: dict[str, int] = Field(description="Feedback rows per feedback type")
    precision: float | None = Field(description="helpful / (helpful + false_positive); good_catch counts as helpful")
    helpful_rate: float | None
    severity_accuracy: float | None = Field(
        description="Predicted severity equal to the reviewer's correction, or to the raised severity when the"
        " reviewer saw the issue and did not correct it")
    severity_judged: int
    per_severity_accuracy: dict[str, SeverityAccuracy]


class IssueTypeMetrics(BaseModel):
    analyzer: str
    rule: str
    feedback: int
    helpful_rate: float
    precision: float | None


class ModelVersionMetrics(FeedbackSummary):
    model: str = Field(description="<registered model name>/<version>")
    predictions: int


class ArmMetrics(FeedbackSummary):
    predictions: int


class ABMetrics(BaseModel):
    arms: dict[str, ArmMetrics]
    challenger_minus_champion: dict[str, float | None] | None = Field(
        description="precision, helpful_rate and severity_accuracy of the challenger minus the champion's, when both"
        " arms served")


class LearningMetrics(FeedbackSummary):
    project: str
    top_issue_types: list[IssueTypeMetrics]
    per_model_version: list[ModelVersionMetrics]
    ab: ABMetrics


class MlflowMetricsRun(BaseModel):
    project: str
    run_id: str
    experiment: str



@router.get("/metrics", summary="Feedback counts, precision, severity accuracy, per model version and A/B arm",
            responses=problem_responses(401, 404, 422))
def get_metrics(project: ProjectSlug, user: CurrentUser, session: DbSession,
                since: Annotated[datetime | None, Query(description="Only feedback at or after this time")] = None,
                top: Annotated[int, Query(ge=1, le=100, description="How many top issue types")] = 10) -> LearningMetrics:
    from ml.learning_metrics import learning_metrics

    proj = authorize(session, user, project, Role.viewer)
    return LearningMetrics(project=project, **learning_metrics(session, proj.id, since=since, top=top))


@router.post("/metrics/mlflow", status_code=201, summary="Record the current learning metrics as an MLflow run",
             responses=problem_responses(401, 403, 404, 503))
def log_metrics(project: ProjectSlug, user: CurrentUser, session: DbSession) -> MlflowMetricsRun:
    from ml.learning_metrics import learning_metrics, log_to_mlflow

    proj = authorize(session, user, project, Role.editor)
    metrics = learning_metrics(session, proj.id)
    try:
        run_id = log_to_mlflow(metrics, project=project)
    except Exception as exc:  # noqa: BLE001 - tracking store down: say so, do not 500
        raise ServiceUnavailable(f"MLflow tracking store unavailable: {type(exc).__name__}: {exc}") from None
    return MlflowMetricsRun(project=project, run_id=run_id, experiment="autopr-learning-metrics")
