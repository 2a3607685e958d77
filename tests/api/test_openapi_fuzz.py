"""schemathesis v4 against the platform API's own OpenAPI document (in-process ASGI app).

Every operation is exercised with generated valid and invalid input, as an
authenticated project admin, and must never answer 5xx, nor answer anything
(status, content type, headers, body) its OpenAPI document does not declare.
The number of examples per operation is bounded so the whole run stays well
under a minute on two cores.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from include.api.app import create_app
from tests.api.conftest import CLOSED_AIRFLOW_URL, token_for

APP = create_app()
full_schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
BUILDER_TAGS = r"^(health|projects|workflows|runs|templates|schemas|webhooks|editor)$"
LEARNING_TAGS = r"^(reviews|predictions|recommendations|learning)$"
schema = full_schema.include(tag_regex=BUILDER_TAGS)
learning_schema = full_schema.include(tag_regex=LEARNING_TAGS)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def seeded(pg_url):
    """A project 'acme' administered by alice, with a workflow, before fuzzing starts."""
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from include.db.models import Base
    from include.db.session import get_engine
    from include.settings import get_settings

    previous = os.environ.get("AUTOPR_AIRFLOW_API_URL")
    os.environ["AUTOPR_AIRFLOW_API_URL"] = CLOSED_AIRFLOW_URL
    get_settings.cache_clear()
    with get_engine(pg_url).begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "execution_events")
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    headers = {"Authorization": f"Bearer {token_for('alice')}"}
    with TestClient(APP) as client:
        assert client.post("/api/v1/projects", json={"slug": "acme", "name": "Acme"}, headers=headers).status_code == 201
        # First use creates the MLflow store (tens of seconds); do it before the fuzzer's 10 s timeouts.
        assert client.get("/api/v1/predictions/models", headers=headers).status_code == 200
    yield headers
    if previous is None:
        os.environ.pop("AUTOPR_AIRFLOW_API_URL", None)
    else:
        os.environ["AUTOPR_AIRFLOW_API_URL"] = previous
    get_settings.cache_clear()


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_5xx_and_conforms_to_openapi(case, seeded):
    case.call_and_validate(headers=seeded, checks=CHECKS)


def not_a_server_error_except_no_model(ctx, response, case):
    """Like schemathesis' server-error check, but a 503 problem saying no model is served is the designed
    answer of the prediction routes when no champion exists (never a wrong answer)."""
    if response.status_code == 503 and response.headers.get("content-type", [""])[0].startswith(
            "application/problem+json") and "No severity model" in response.text:
        return None
    return not_a_server_error(ctx, response, case)


LEARNING_CHECKS = [not_a_server_error_except_no_model, *CHECKS[1:]]


@learning_schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_learning_routes_no_5xx_and_conform_to_openapi(case, seeded):
    """The learning system's routes (reviews, feedback, predictions, recommendations, metrics), no model served."""
    case.call_and_validate(headers=seeded, checks=LEARNING_CHECKS)
