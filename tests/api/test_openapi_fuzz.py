"""schemathesis v4 against the platform API's own OpenAPI document (in-process ASGI app).

Every operation is exercised with generated valid and invalid input, as an
authenticated project admin, and must never answer 5xx, nor answer anything
(status, content type, headers, body) its OpenAPI document does not declare.

The whole run happens once per app database backend: the embedded SQLite
default and PostgreSQL.  They differ where it shows in answers (SQLite keeps
no time-zone offsets, so a time read back naive breaks the ``date-time``
format), and a suite on PostgreSQL alone never sees SQLite's answers.  The
fuzzer rarely guesses the path of a stored row, so the seeded rows are also
read back explicitly.  The number of examples per operation is bounded so
both runs together stay a small part of the suite's time on two cores.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

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


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app_db(request, tmp_path_factory) -> str:
    """The app database the fuzzed API runs on: the embedded SQLite default, then PostgreSQL.

    SQLite gets its own migrated file, exactly as ``./autopr run`` creates it; PostgreSQL is the
    session's database, emptied.  Each backend's read path differs (SQLite keeps no offsets), so
    each gets the whole run.
    """
    from sqlalchemy import text

    from include.db.migrate import upgrade
    from include.db.models import Base
    from include.db.session import get_engine

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz-sqlite') / 'autopr.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("pg_url")
    with get_engine(url).begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "execution_events")
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return url


def _forget_process_caches() -> None:
    """Drop what the in-process app remembers about the previous backend's rows (a server never switches)."""
    from include.api.routes import predictions
    from ml.reviewer_service import forget_fitted
    from ml.serving import reset_service

    reset_service()
    predictions._auth_cache.clear()
    forget_fitted()


@pytest.fixture(scope="module")
def seeded(app_db):
    """Headers of alice, admin of project 'acme', whose rows carry every kind of stored time.

    A workflow (two versions), a template, a review with an issue and its feedback, and a change
    recorded with a non-UTC time: the fuzzed list routes then answer with stored times, and
    ``test_seeded_reads_conform_to_openapi`` reads each of them back.
    """
    from fastapi.testclient import TestClient

    from include.settings import get_settings
    from tests.api.conftest import workflow_doc

    saved = {name: os.environ.get(name) for name in ("AUTOPR_AIRFLOW_API_URL", "AUTOPR_DATABASE_URL")}
    os.environ["AUTOPR_AIRFLOW_API_URL"] = CLOSED_AIRFLOW_URL
    os.environ["AUTOPR_DATABASE_URL"] = app_db
    get_settings.cache_clear()
    assert get_settings().database_url == app_db
    _forget_process_caches()
    headers = {"Authorization": f"Bearer {token_for('alice')}"}
    with TestClient(APP) as client:
        def ok(response, status=201):
            assert response.status_code == status, response.text
            return response.json()

        ok(client.post("/api/v1/projects", json={"slug": "acme", "name": "Acme"}, headers=headers))
        ok(client.put("/api/v1/projects/acme/members/ed", json={"role": "editor"}, headers=headers))
        created = client.post("/api/v1/projects/acme/workflows", json=workflow_doc(), headers=headers)
        assert created.status_code == 201, created.text
        ok(client.put("/api/v1/projects/acme/workflows/review", json=workflow_doc(description="v2"),
                      headers={**headers, "If-Match": created.headers["etag"]}), 200)
        template = ok(client.post("/api/v1/projects/acme/workflows/review/template",
                                  json={"name": "Seeded review", "is_public": True}, headers=headers))
        review = ok(client.post("/api/v1/projects/acme/reviews", headers=headers, json={
            "repository": "acme/api", "pr_number": 7, "issues": [{
                "file_path": "app/db.py", "line": 12, "rule": "S608", "analyzer": "ruff", "severity": "high",
                "message": "Possible SQL injection"}]}))
        issue_id = review["issues"][0]["id"]
        ok(client.post(f"/api/v1/projects/acme/issues/{issue_id}/feedback", headers=headers,
                       json={"feedback_type": "helpful"}))
        ok(client.put("/api/v1/projects/acme/changes/c1", headers=headers, json={
            "repository": "acme/api", "author": "ed", "files": ["app/db.py"], "reviewers": ["alice"],
            "status": "merged", "created_at": "2026-12-01T23:45:01.631617+05:30"}))
        # First use creates the MLflow store (tens of seconds); do it before the fuzzer's 10 s timeouts.
        ok(client.get("/api/v1/predictions/models", headers=headers), 200)
    yield {"headers": headers, "template_id": template["id"], "review_id": review["id"], "issue_id": issue_id}
    _forget_process_caches()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


# What is checked is the answer (no 5xx, conforms to the contract), not its speed, which the benchmarks
# measure: on a loaded CI machine one generated request took longer than schemathesis' default read timeout.
FUZZ_READ_TIMEOUT = 120


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_5xx_and_conforms_to_openapi(case, seeded):
    case.call_and_validate(headers=seeded["headers"], timeout=FUZZ_READ_TIMEOUT, checks=FUZZ_CHECKS)


#: 503 problems that are the designed answer here, never a wrong one: no severity model is served
#: (the prediction routes without a champion), and Airflow is unreachable (the run routes of workflows
#: the fuzzer creates: no Airflow runs beside this in-process app).
DESIGNED_503 = ("No severity model", "Airflow is unreachable")


def not_a_server_error_except_designed_503(ctx, response, case):
    """Like schemathesis' server-error check, except for the 503 problems of :data:`DESIGNED_503`."""
    if response.status_code == 503 and response.headers.get("content-type", [""])[0].startswith(
            "application/problem+json") and any(reason in response.text for reason in DESIGNED_503):
        return None
    return not_a_server_error(ctx, response, case)


FUZZ_CHECKS = [not_a_server_error_except_designed_503, *CHECKS[1:]]


@learning_schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_learning_routes_no_5xx_and_conform_to_openapi(case, seeded):
    """The learning system's routes (reviews, feedback, predictions, recommendations, metrics), no model served."""
    case.call_and_validate(headers=seeded["headers"], timeout=FUZZ_READ_TIMEOUT, checks=FUZZ_CHECKS)


# Reads of the seeded rows, each with the path parameters that find them (the fuzzer rarely guesses them).
SEEDED_READS = [
    ("/api/v1/projects", {}),
    ("/api/v1/projects/{project}", {"project": "acme"}),
    ("/api/v1/projects/{project}/members", {"project": "acme"}),
    ("/api/v1/workflows", {}),
    ("/api/v1/projects/{project}/workflows/{workflow}", {"project": "acme", "workflow": "review"}),
    ("/api/v1/projects/{project}/workflows/{workflow}/versions", {"project": "acme", "workflow": "review"}),
    ("/api/v1/projects/{project}/workflows/{workflow}/versions/{version}",
     {"project": "acme", "workflow": "review", "version": 1}),
    ("/api/v1/templates", {}),
    ("/api/v1/templates/{template_id}", {"template_id": "template_id"}),
    ("/api/v1/projects/{project}/reviews/{review_id}", {"project": "acme", "review_id": "review_id"}),
    ("/api/v1/projects/{project}/issues", {"project": "acme"}),
    ("/api/v1/projects/{project}/issues/{issue_id}", {"project": "acme", "issue_id": "issue_id"}),
    ("/api/v1/projects/{project}/issues/{issue_id}/feedback", {"project": "acme", "issue_id": "issue_id"}),
]
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _times(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _times(item)
    elif isinstance(value, list):
        for item in value:
            yield from _times(item)
    elif isinstance(value, str) and _TIME.match(value):
        yield value


@pytest.mark.parametrize(("path", "params"), SEEDED_READS, ids=[p for p, _ in SEEDED_READS])
def test_seeded_reads_conform_to_openapi(path, params, seeded):
    """Each stored time comes back as UTC with its offset, and each answer matches the OpenAPI document."""
    params = {name: seeded[value] if isinstance(value, str) and value in seeded else value
              for name, value in params.items()}
    case = full_schema[path]["GET"].Case(path_parameters=params)
    response = case.call_and_validate(headers=seeded["headers"], timeout=FUZZ_READ_TIMEOUT, checks=CHECKS)
    assert response.status_code == 200, response.text
    times = list(_times(response.json()))
    assert times, f"{path} answered no stored time: {response.text[:500]}"
    for value in times:
        parsed = datetime.fromisoformat(value)
        assert parsed.utcoffset() == timedelta(0), f"{path}: {value!r} is not an aware UTC time"


@pytest.mark.parametrize("written", ["2026-12-01T18:15:01.631617", "2026-12-01T23:45:01.631617+05:30",
                                     "2026-12-01T10:15:01.631617-08:00"])
def test_written_times_are_answered_in_utc(written, seeded):
    """A route answering from the row it just wrote gives the client's time back as UTC (naive means UTC)."""
    from fastapi.testclient import TestClient

    with TestClient(APP) as client:
        r = client.put("/api/v1/projects/acme/changes/echo", headers=seeded["headers"], json={
            "repository": "acme/api", "author": "ed", "files": ["app/db.py"], "status": "merged",
            "created_at": written, "closed_at": written})
    assert r.status_code in (200, 201), r.text
    for name in ("created_at", "closed_at"):
        assert datetime.fromisoformat(r.json()[name]) == datetime(
            2026, 12, 1, 18, 15, 1, 631617, tzinfo=UTC), r.json()
        assert datetime.fromisoformat(r.json()[name]).utcoffset() == timedelta(0)
