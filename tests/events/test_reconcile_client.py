"""The reconciler reads Airflow through the platform's one REST client (include.airflow_client).

A stand-in Airflow (httpx.MockTransport) instead of the real API server: what is
pinned here is the client's login, retry-on-401, paging and the reconciler's
error wording; tests/events/test_reconcile.py runs it against Airflow itself.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from include.airflow_client import AirflowClient, AirflowError
from include.events.reconcile import ReconcileError, Reconciler
from include.settings import Settings


class StandIn:
    """Airflow's /auth/token, /api/v2/dags/{id} and the two list endpoints the reconciler polls."""

    def __init__(self, *, password: str = "pw", runs: int = 0, expire_first_token: bool = False):
        self.password = password
        self.logins = 0
        self.expire_first_token = expire_first_token
        self.now = datetime.now(UTC)
        self.runs = [
            {"dag_id": "autopr__acme__review", "dag_run_id": f"r{i}", "state": "queued",
             "queued_at": self.now.isoformat()}
            for i in range(runs)
        ]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/auth/token":
            import json

            body = json.loads(request.content)
            if body["password"] != self.password:
                return httpx.Response(401, json={"detail": "Invalid credentials"})
            self.logins += 1
            return httpx.Response(201, json={"access_token": f"t{self.logins}"})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token or (self.expire_first_token and token == "t1"):
            return httpx.Response(401, json={"detail": "Token expired"})
        if path == "/api/v2/dags/~/dagRuns":
            offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
            return httpx.Response(200, json={"dag_runs": self.runs[offset:offset + limit],
                                             "total_entries": len(self.runs)})
        if path == "/api/v2/dags/~/dagRuns/~/taskInstances":
            return httpx.Response(200, json={"task_instances": [], "total_entries": 0})
        if path == "/api/v2/dags/autopr__acme__review":
            return httpx.Response(200, json={"dag_id": "autopr__acme__review", "tags": [{"name": "project:acme"}]})
        return httpx.Response(404, json={"detail": "not found"})


class ListOutbox:
    def __init__(self):
        self.events = []

    def put(self, event):
        self.events.append(event)


def settings(tmp_path, url: str, password: str = "pw") -> Settings:
    return Settings(airflow_api_url=url, airflow_api_username="svc", airflow_api_password=password,
                    state_dir=tmp_path)


def poll(tmp_path, airflow: StandIn, url: str, password: str = "pw", **kw):
    reconciler = Reconciler(settings=settings(tmp_path, url, password), outbox=ListOutbox(),
                            transport=httpx.MockTransport(airflow), grace=timedelta(0), **kw)
    result = asyncio.run(reconciler.run_once(since=airflow.now - timedelta(minutes=1)))
    return reconciler, result


def test_polls_page_by_page_and_names_each_project(tmp_path):
    airflow = StandIn(runs=250)
    _, result = poll(tmp_path, airflow, "http://airflow-paging.test")
    assert result.dag_runs_seen == 250 == result.emitted
    assert {e.project for e in result.emitted_events} == {"acme"}
    pages = [r for r in airflow.requests if r.url.path == "/api/v2/dags/~/dagRuns"]
    assert [int(r.url.params["offset"]) for r in pages] == [0, 100, 200]
    assert airflow.logins == 1


def test_every_poll_uses_one_client_until_the_reconciler_closes(tmp_path):
    """Polling about every second, a client (TLS context, connection) built per poll is steady CPU for nothing."""
    airflow = StandIn(runs=1)
    reconciler, _ = poll(tmp_path, airflow, "http://airflow-reuse.test")
    first = reconciler.client()
    asyncio.run(reconciler.run_once())
    assert reconciler.client() is first and not first._http.is_closed
    reconciler.close()
    assert first._http.is_closed and reconciler.client() is not first


def test_an_expired_token_is_renewed_once(tmp_path):
    airflow = StandIn(runs=1, expire_first_token=True)
    _, result = poll(tmp_path, airflow, "http://airflow-expired.test")
    assert result.emitted == 1 and airflow.logins == 2


def test_a_token_passed_in_is_never_swapped_for_a_login(tmp_path):
    airflow = StandIn(runs=1, expire_first_token=True)
    with pytest.raises(ReconcileError, match=r"GET /api/v2/dags/~/dagRuns failed: HTTP 401 Token expired"):
        poll(tmp_path, airflow, "http://airflow-static.test", token="t1")
    assert airflow.logins == 0


def test_wrong_credentials_are_refused_even_after_a_good_login(tmp_path):
    url = "http://airflow-creds.test"
    poll(tmp_path, StandIn(runs=1), url)  # a token for "svc" is now cached in this process
    with pytest.raises(ReconcileError, match="POST /auth/token failed: HTTP 401 Invalid credentials"):
        poll(tmp_path, StandIn(runs=1), url, password="wrong")


def test_unreachable_airflow_says_where(tmp_path):
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    reconciler = Reconciler(settings=settings(tmp_path, "http://airflow-down.test"), outbox=ListOutbox(),
                            transport=httpx.MockTransport(refuse))
    with pytest.raises(ReconcileError, match=r"POST /auth/token: Airflow API unreachable at http://airflow-down.test"):
        asyncio.run(reconciler.run_once())


def test_an_unknown_dag_falls_back_to_the_default_project_and_is_asked_again(tmp_path):
    from include.events.schema import DEFAULT_PROJECT

    airflow = StandIn(runs=1)
    airflow.runs[0]["dag_id"] = "not_ours"
    reconciler, result = poll(tmp_path, airflow, "http://airflow-unknown.test")
    assert [e.project for e in result.emitted_events] == [DEFAULT_PROJECT]
    assert "not_ours" not in reconciler._projects


def test_the_client_pages_any_collection():
    airflow = StandIn(runs=5)
    with AirflowClient("http://airflow-client.test", username="svc", password="pw",
                       settings=Settings(), transport=httpx.MockTransport(airflow)) as client:
        assert len(client.paged("/api/v2/dags/~/dagRuns", "dag_runs", page_size=2)) == 5
        with pytest.raises(AirflowError) as refused:
            client.paged("/api/v2/nope", "items")
        assert refused.value.status == 404
