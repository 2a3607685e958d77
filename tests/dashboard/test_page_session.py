"""The page's HTTP routes against the real sidecar: sign-in by the Airflow session cookie, and whole runs paged.

``POST /api/session`` turns the Airflow UI's ``_token`` cookie into the page's
token for the page's own origin only; ``GET /api/runs`` pages whole runs
(every event of each), newest first, members only.
"""

from __future__ import annotations

import time

import httpx
import pytest

from include.auth.tokens import mint_token
from tests.dashboard.conftest import add_member, task_event, unique

pytestmark = pytest.mark.timeout(120)


def test_session_from_the_airflow_cookie_for_the_page_origin_only(sidecar):
    token = mint_token("pat", ttl_seconds=600, settings=sidecar.settings)
    cookies = {"_token": token}
    with httpx.Client(base_url=sidecar.url, timeout=10) as http:
        ok = http.post("/api/session", cookies=cookies, headers={"Origin": sidecar.url})
        assert ok.status_code == 200, ok.text
        assert ok.json()["username"] == "pat" and ok.json()["access_token"] == token
        assert ok.headers["cache-control"] == "no-store"
        # Another site's page (or a form it posts) must not turn a visitor's cookie into a readable token.
        foreign = http.post("/api/session", cookies=cookies, headers={"Origin": "http://evil.example.com"})
        assert foreign.status_code == 403 and foreign.json()["field"] == "Origin"
        assert http.post("/api/session", cookies=cookies).status_code == 403  # no Origin: not a page's fetch
        got = http.get("/api/session", cookies=cookies, headers={"Origin": sidecar.url})  # only a POST carries Origin
        assert got.status_code >= 400 and token not in got.text
        missing = http.post("/api/session", headers={"Origin": sidecar.url})
        assert missing.status_code == 401 and "log in" in missing.json()["detail"]
        forged = mint_token("pat", settings=sidecar.settings.model_copy(update={"jwt_secret": "x" * 64}))
        bad = http.post("/api/session", cookies={"_token": forged}, headers={"Origin": sidecar.url})
        assert bad.status_code == 401 and "signature" in bad.json()["detail"]
        # The page signs itself in, so only it and Airflow's UI (whose nav embeds it) may frame it.
        page = http.get("/")
        ui = sidecar.settings.airflow_ui_url.rstrip("/")
        assert page.headers["content-security-policy"] == f"frame-ancestors 'self' {ui}"


def test_runs_are_paged_whole_newest_first_for_members(sidecar, pg_url):
    project = unique("hist")
    add_member(pg_url, project, "pat")
    for run in range(3):
        for n in range(4):
            sidecar.put(task_event(project, n, run_id=f"run{run}__{project}"))
    headers = {"Authorization": "Bearer " + mint_token("pat", settings=sidecar.settings)}
    with httpx.Client(base_url=sidecar.url, timeout=10, headers=headers) as http:
        deadline = time.monotonic() + 20
        while len(http.get("/api/feed", params={"project": project, "limit": 20}).json()["items"]) < 12:
            assert time.monotonic() < deadline, "events never persisted"
            time.sleep(0.2)
        first = http.get("/api/runs", params={"project": project, "limit": 2}).json()
        assert [r["run_id"] for r in first["runs"]] == [f"run2__{project}", f"run1__{project}"]
        assert all(len(r["events"]) == 4 and r["complete"] for r in first["runs"])
        assert first["runs"][0]["workflow"] is None and first["runs"][0]["context"] is None  # not a workflow DAG
        rest = http.get("/api/runs", params={"project": project, "limit": 2, "before": first["next_before"]}).json()
        assert [r["run_id"] for r in rest["runs"]] == [f"run0__{project}"] and rest["next_before"] is None
        one = http.get("/api/runs", params={"project": project, "dag_id": "demo_dag", "run_id": f"run1__{project}"})
        assert [r["run_id"] for r in one.json()["runs"]] == [f"run1__{project}"]

        assert http.get("/api/runs", params={"project": project, "since": "yesterday"}).status_code == 422
        other = {"Authorization": "Bearer " + mint_token("stranger", settings=sidecar.settings)}
        assert http.get("/api/runs", params={"project": project}, headers=other).status_code == 403
        assert httpx.get(sidecar.url + "/api/runs", params={"project": project}).status_code == 401
