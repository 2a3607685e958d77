"""Dry run: the DAG a workflow compiles to, from the builder Airflow's loader uses, without saving."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from include.api.app import create_app
from include.auth.tokens import mint_token

FIXTURE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "invalid_graphs.json").read_text())


@pytest.fixture(scope="module")
def client():
    client = TestClient(create_app())
    client.headers["Authorization"] = f"Bearer {mint_token('alice')}"
    return client


def test_dry_run_describes_tasks_branches_and_schedule(client):
    resp = client.post("/api/v1/workflows/dry-run", json=FIXTURE["valid"])
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["dag_id"] == "autopr__demo__fixture-graph"
    assert out["schedule"] is None
    assert "project:demo" in out["tags"]
    tasks = {t["task_id"]: t for t in out["tasks"]}
    assert [t["task_id"] for t in out["tasks"]][:3] == ["trigger", "quality_check", "gate"]
    assert tasks["gate"]["upstream"] == ["quality_check"]
    assert tasks["gate"]["downstream"] == ["comment", "notify"]
    assert tasks["gate"]["operator"] == "_BranchPythonDecoratedOperator"
    assert tasks["comment"]["trigger_rule"] == "none_failed_min_one_success"
    assert tasks["quality_check"]["retries"] == 2 and tasks["quality_check"]["timeout_seconds"] == 900
    assert out["branches"] == {"gate": {"true": ["comment"], "false": ["notify"]}}


def test_a_schedule_trigger_becomes_the_dag_schedule(client):
    wf = copy.deepcopy(FIXTURE["valid"])
    wf["nodes"][0]["config"] = {"event": "schedule", "cron": "0 3 * * 1"}
    assert client.post("/api/v1/workflows/dry-run", json=wf).json()["schedule"] == "0 3 * * 1"


def test_an_invalid_workflow_is_422_with_pointers(client):
    case = FIXTURE["cases"][0]
    resp = client.post("/api/v1/workflows/dry-run", json=case["workflow"])
    assert resp.status_code == 422
    errors = resp.json()["errors"]
    assert any(e.get("edge_id") == case["bad_edge"] and e["pointer"].startswith("/edges/") for e in errors)


def test_dry_run_needs_a_token():
    assert TestClient(create_app()).post("/api/v1/workflows/dry-run", json=FIXTURE["valid"]).status_code == 401
