"""Severity predictions from the registered model (``autopr-severity``), one issue or a batch.

Each answer names the model version and the A/B arm (``champion`` or
``challenger``) that produced it, plus the calibrated probability that a
reviewer finds the issue helpful (``helpfulness``) when an
``autopr-helpfulness`` model is registered; issues below the confidence
threshold come back with ``hidden: true``.  No model → 503 (never a guess);
bad input → 422 naming the field.

Role: ``viewer`` of the project.  Heavy imports (mlflow, sklearn, pandas)
happen inside :mod:`ml.serving` on first use, not when Airflow imports this.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from include.api import metrics
from include.api.deps import CurrentUser, authorize
from include.api.errors import ServiceUnavailable, Unprocessable, problem_responses
from include.api.types import NO_NUL, ProjectSlug
from include.auth.tokens import Identity
from include.db.session import session_scope
from include.enums import Role, Severity

router = APIRouter(tags=["predictions"])

MAX_BATCH = 5000


class IssueIn(BaseModel):
    """An issue to score: what the analyser said and where (metrics optional)."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=20000, pattern=NO_NUL)
    rule: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    analyzer: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    file_path: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)
    line: int | None = Field(default=None, ge=0)
    severity: Severity | None = Field(default=None, description="The analyser's own level, if any (helpfulness input)")
    pr_size: float | None = Field(default=None, ge=0, description="Lines changed in the reviewed change")
    complexity: float | None = Field(default=None, ge=0)
    file_lines: float | None = Field(default=None, ge=0)
    created_at: datetime | None = None
    issue_id: int | None = Field(default=None, ge=1, description="Stored issue this prediction is for (logged)")


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: str = Field(min_length=1, max_length=300, pattern=NO_NUL, description="owner/name; decides the A/B arm")
    issue: IssueIn


class BatchPredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: str = Field(min_length=1, max_length=300, pattern=NO_NUL, description="owner/name; decides the A/B arm")
    issues: list[IssueIn] = Field(min_length=1, max_length=MAX_BATCH)


class PredictionOut(BaseModel):
    severity: str
    confidence: float = Field(description="Model probability of the predicted severity")
    probabilities: dict[str, float]
    model_version: str
    arm: str
    helpfulness: float | None = Field(description="Calibrated P(reviewer finds it helpful); null without a model")
    helpfulness_model_version: str | None
    hidden: bool = Field(description="helpfulness below the confidence threshold")


class PredictResponse(PredictionOut):
    model_name: str


class BatchPredictResponse(BaseModel):
    model_name: str
    model_version: str
    arm: str
    count: int
    predictions: list[PredictionOut]


#: Project membership answers are reused for this long on the prediction hot paths (a role change or
#: removal takes effect within it): a database round trip per prediction would cost more than the model.
AUTH_CACHE_SECONDS = 5.0
_auth_cache: dict[tuple[str, str], tuple[float, int]] = {}


def _cached_project_id(user: Identity, project: str) -> int | None:
    """The project id from a membership answer younger than AUTH_CACHE_SECONDS, else None (no I/O)."""
    hit = _auth_cache.get((user.username, project))
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def _viewer_project_id(user: Identity, project: str) -> int:
    cached = _cached_project_id(user, project)
    if cached is not None:
        return cached
    with session_scope() as session:
        project_id = authorize(session, user, project, Role.viewer).id  # 404/403 problems propagate
    if len(_auth_cache) > 10_000:
        _auth_cache.clear()
    _auth_cache[(user.username, project)] = (time.monotonic() + AUTH_CACHE_SECONDS, project_id)
    return project_id


def _encoder() -> Any:
    """bytes of a JSON document: msgspec's encoder when installed (~3x json.dumps on 5,000 predictions)."""
    try:
        import msgspec

        return msgspec.json.Encoder().encode
    except ImportError:  # pragma: no cover - msgspec comes with the locked dependencies
        import json

        return lambda obj: json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


_encode = _encoder()


def _json(content: dict[str, Any]) -> Response:
    # plain JSON types already: skip re-validating our own output (response_model documents it)
    return Response(_encode(content), media_type="application/json")


def _dump(issue: IssueIn) -> dict[str, Any]:
    # exclude_none: issues_frame treats missing and None the same; fewer keys is faster
    return issue.model_dump(exclude_none=True)


def _run(records: list[dict[str, Any]], repository: str, project_id: int, pointer_prefix: str) -> tuple[Any, list[Any]]:
    from ml.features import FeatureInputError
    from ml.serving.cache import ModelUnavailable
    from ml.serving.service import get_service

    service = get_service()
    try:
        preds = service.predict(records, repository, project_id=project_id)
    except ModelUnavailable as exc:
        raise ServiceUnavailable(f"No severity model to serve: {exc.reason}",
                                 headers={"Retry-After": str(int(service.settings.model_refresh_seconds) + 1)}) from None
    except FeatureInputError as exc:
        where = f"{pointer_prefix}/{exc.index}/{exc.field}" if pointer_prefix.endswith("issues") else f"{pointer_prefix}/{exc.field}"
        raise Unprocessable(f"Invalid issue: {where}", errors=[{"pointer": where, "message": str(exc)}]) from None
    metrics.PREDICTIONS.labels(service.settings.severity_model_name, preds[0].arm).inc(len(preds))
    return service.settings.severity_model_name, preds


@router.post("/api/v1/projects/{project}/predictions/severity", response_model=PredictResponse,
             summary="Predict the severity of one issue", responses=problem_responses(401, 404, 422, 503))
async def predict_one(project: ProjectSlug, body: PredictRequest, user: CurrentUser) -> Response:
    # Deliberately inline on the event loop: one prediction is a few milliseconds of CPU, less than
    # the thread-pool hops a sync endpoint and its sync dependencies would add.  (Batches use a
    # sync endpoint, so long predictions never block the loop.)
    # Anything that may wait on I/O goes to a thread: a membership lookup the cache cannot answer,
    # and a model that is not loaded yet (loading takes seconds).
    from starlette.concurrency import run_in_threadpool

    from ml.serving.service import get_service

    project_id = _cached_project_id(user, project)
    if project_id is None:
        project_id = await run_in_threadpool(_viewer_project_id, user, project)
    service = get_service()
    records = [_dump(body.issue)]
    if service.cache.peek(service.severity_model, "champion") is None:
        name, preds = await run_in_threadpool(_run, records, body.repository, project_id, "/issue")
    else:
        name, preds = _run(records, body.repository, project_id, "/issue")
    return _json({"model_name": name, **preds[0].as_dict()})


@router.post("/api/v1/projects/{project}/predictions/severity/batch", response_model=BatchPredictResponse,
             summary="Predict the severity of up to 5,000 issues of one repository",
             responses=problem_responses(401, 404, 422, 503))
def predict_batch(project: ProjectSlug, body: BatchPredictRequest, user: CurrentUser) -> Response:
    project_id = _viewer_project_id(user, project)
    name, preds = _run([_dump(i) for i in body.issues], body.repository, project_id, "/issues")
    first = preds[0]
    return _json({"model_name": name, "model_version": first.model_version, "arm": first.arm,
                  "count": len(preds), "predictions": [p.as_dict() for p in preds]})


@router.get("/api/v1/predictions/models", summary="Which model versions serve each alias, and the A/B share",
            responses=problem_responses(401))
def serving_status(user: CurrentUser) -> dict[str, Any]:
    from ml.serving.service import get_service

    return get_service().status()


@router.get("/api/v1/predictions/drift", summary="The served severity model's newest drift reports",
            responses=problem_responses(401))
def drift_reports(user: CurrentUser, limit: int = Query(default=24, ge=1, le=500)) -> dict[str, Any]:
    """Newest first: per check of the served version against its training reference (``ml_drift_watch``).

    Each report has ``status`` (``ok``, ``drift``, ``insufficient_data``),
    ``max_psi`` and ``worst_feature``, and per feature its PSI, Jensen-Shannon
    distance and, for readable features, the biggest share changes
    (:func:`ml.drift.compare`).  Any signed-in user, like ``predictions/models``:
    a report holds counts of analysers, rules, file types, bands and hashed
    tokens, never a repository or a message.
    """
    from include.settings import get_settings
    from ml.drift_watch import latest_reports

    name = get_settings().severity_model_name
    with session_scope() as session:
        reports = latest_reports(session, name, limit)
    return {"model_name": name, "latest": reports[0] if reports else None, "reports": reports}
