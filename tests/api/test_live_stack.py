"""The platform API mounted in a real Airflow (``./autopr run``'s stack), driven over HTTP.

Tokens come from Airflow's own ``POST /auth/token``; the API resolves them
through Airflow's auth manager.  A saved workflow must show up in Airflow's
``GET /api/v2/dags`` within 30 s and run when triggered through the API; a
signed webhook delivery must start the matching workflow, a badly signed one
must be refused.
"""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import quote

import httpx
import pytest

from include.api.routes.webhooks import signature_for
from include.auth.tokens import mint_token
from tests.api.conftest import workflow_doc
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
def live(platform):
    token = platform.token()
    api = httpx.Client(base_url=platform.airflow_url + "/autopr", timeout=30,
                       headers={"Authorization": f"Bearer {token}"})
    airflow = platform.api(token)
    yield platform, api, airflow
    api.close()
    airflow.close()


def test_live_auth_crud_run_and_webhook(live):
    platform, api, airflow = live
    project = f"live-{uuid.uuid4().hex[:6]}"

    # --- auth through Airflow's auth manager -----------------------------------------------
    assert httpx.get(f"{platform.airflow_url}/autopr/api/v1/projects").status_code == 401
    expired = mint_token(platform.username, ttl_seconds=-30, settings=platform.settings, role="admin")
    r = httpx.get(f"{platform.airflow_url}/autopr/api/v1/projects", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert api.post("/api/v1/projects", json={"slug": project, "name": "Live"}).status_code == 201
    outsider = mint_token("outsider", settings=platform.settings, role="viewer")
    r = httpx.get(f"{platform.airflow_url}/autopr/api/v1/projects/{project}",
                  headers={"Authorization": f"Bearer {outsider}"})
    assert r.status_code == 404
    assert api.put(f"/api/v1/projects/{project}/members/outsider", json={"role": "viewer"}).status_code == 201
    r = httpx.put(f"{platform.airflow_url}/autopr/api/v1/projects/{project}/workflows/x",
                  json=workflow_doc("x", project), headers={"Authorization": f"Bearer {outsider}", "If-Match": '"1"'})
    assert r.status_code == 403

    # --- save -> visible in Airflow within 30 s ----------------------------------------------
    base = f"/api/v1/projects/{project}/workflows"
    started = time.monotonic()
    r = api.post(base, json=workflow_doc("hello", project))
    assert r.status_code == 201, r.text
    dag_id = r.json()["dag_id"]
    seen = wait_for(lambda: airflow.get(f"/api/v2/dags/{dag_id}").status_code == 200, timeout=30)
    visible_after = time.monotonic() - started
    print(f"\nworkflow visible in GET /api/v2/dags after {visible_after:.1f} s")
    assert seen, f"{dag_id} not in Airflow after 30 s"
    listed = airflow.get("/api/v2/dags", params={"dag_id_pattern": dag_id}).json()["dags"]
    assert [d["dag_id"] for d in listed] == [dag_id]

    # --- optimistic concurrency over HTTP ---------------------------------------------------------
    doc = r.json()["spec"] | {"description": "edited"}
    assert api.put(f"{base}/hello", json=doc).status_code == 428
    assert api.put(f"{base}/hello", json=doc, headers={"If-Match": '"1"'}).status_code == 200
    stale = api.put(f"{base}/hello", json=doc | {"description": "lost?"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409 and stale.headers["etag"] == '"2"'
    assert api.get(f"{base}/hello").json()["description"] == "edited"

    # --- run through the API, per-node states -------------------------------------------------------
    r = api.post(f"{base}/hello/runs", json={})
    assert r.status_code == 201, r.text
    run_id = r.json()["run_id"]
    assert r.json()["url"].endswith(f"/dags/{dag_id}/runs/{quote(run_id, safe='')}")

    def finished():
        detail = api.get(f"{base}/hello/runs/{run_id}").json()
        return detail if detail["state"] in ("success", "failed") else None

    detail = wait_for(finished, timeout=240, every=2)
    assert detail is not None, "run did not finish in 240 s"
    assert detail["state"] == "success", detail
    assert {n["node_id"]: n["state"] for n in detail["nodes"]}.get("notify") == "success"
    assert run_id in [x["run_id"] for x in api.get(f"{base}/hello/runs").json()["items"]]

    # --- webhook: signed delivery starts the matching workflow, bad signature refused ----------------------
    pr_wf = workflow_doc("on-pr", project)
    pr_wf["nodes"][0]["config"] = {"event": "pr_opened", "branches": ["main"]}
    r = api.post(base, json=pr_wf)
    assert r.status_code == 201, r.text
    pr_dag = r.json()["dag_id"]
    assert api.post(f"/api/v1/projects/{project}/repositories", json={"full_name": "octo/repo"}).status_code == 201
    assert wait_for(lambda: airflow.get(f"/api/v2/dags/{pr_dag}").status_code == 200, timeout=30)
    payload = {
        "action": "opened", "number": 3,
        "pull_request": {"number": 3, "title": "t", "user": {"login": "octo"},
                         "head": {"ref": "feature", "sha": "c" * 40}, "base": {"ref": "main"}, "labels": []},
        "repository": {"full_name": "octo/repo", "clone_url": "https://example.invalid/octo/repo.git"},
        "sender": {"login": "octo"},
    }
    body = json.dumps(payload).encode()
    delivery = str(uuid.uuid4())
    hook = f"{platform.airflow_url}/autopr/api/v1/webhooks/github?project={project}"
    headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery, "Content-Type": "application/json"}
    bad = httpx.post(hook, content=body, headers={**headers, "X-Hub-Signature-256": signature_for("wrong", body)})
    assert bad.status_code == 401
    good = httpx.post(hook, content=body, timeout=30,
                      headers={**headers, "X-Hub-Signature-256": signature_for(platform.settings.webhook_secret, body)})
    assert good.status_code == 202, good.text
    runs = good.json()["runs"]
    assert [(x["dag_id"], x["error"]) for x in runs] == [(pr_dag, None)]
    run = airflow.get(f"/api/v2/dags/{pr_dag}/dagRuns/{runs[0]['run_id']}").json()
    assert run["conf"]["event"]["pr_number"] == 3 and run["conf"]["event"]["kind"] == "pr_opened"
    again = httpx.post(hook, content=body, timeout=30,
                       headers={**headers, "X-Hub-Signature-256": signature_for(platform.settings.webhook_secret, body)})
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert airflow.get(f"/api/v2/dags/{pr_dag}/dagRuns").json()["total_entries"] == 1
