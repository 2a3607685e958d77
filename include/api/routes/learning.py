"""Learning metrics of a project: feedback, precision, severity accuracy, model versions, A/B arms.

``GET`` computes them from the app database (viewer role); ``POST .../mlflow``
also records them as an MLflow run so they show up over time in the MLflow UI
(editor role, since it writes).  Heavy imports stay inside the handlers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from include.api.deps import CurrentUser, DbSession, authorize
from include.api.errors import ServiceUnavailable, problem_responses
from include.api.types import ProjectSlug
from include.enums import Role

router = APIRouter(prefix="/api/v1/projects/{project}/learning", tags=["learning"])



@router.get("/metrics", summary="Feedback counts, precision, severity accuracy, per model version and A/B arm",
            responses=problem_responses(401, 404, 422))
def get_metrics(project: ProjectSlug, user: CurrentUser, session: DbSession,
                since: Annotated[datetime | None, Query(description="Only feedback at or after this time")] = None,
                top: Annotated[int, Query(ge=1, le=100, description="How many top issue types")] = 10) -> dict[str, Any]:
    from ml.learning_metrics import learning_metrics

    proj = authorize(session, user, project, Role.viewer)
    return {"project": project, **learning_metrics(session, proj.id, since=since, top=top)}


@router.post("/metrics/mlflow", status_code=201, summary="Record the current learning metrics as an MLflow run",
             responses=problem_responses(401, 403, 404, 503))
def log_metrics(project: ProjectSlug, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    from ml.learning_metrics import learning_metrics, log_to_mlflow

    proj = authorize(session, user, project, Role.editor)
    metrics = learning_metrics(session, proj.id)
    try:
        run_id = log_to_mlflow(metrics, project=project)
    except Exception as exc:  # noqa: BLE001 - tracking store down: say so, do not 500
        raise ServiceUnavailable(f"MLflow tracking store unavailable: {type(exc).__name__}: {exc}") from None
    return {"project": project, "run_id": run_id, "experiment": "autopr-learning-metrics"}
