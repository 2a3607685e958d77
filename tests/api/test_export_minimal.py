"""Export is minimal and stable: only what differs from the defaults comes back, and importing it gives the same workflow."""

from __future__ import annotations

import yaml

from tests.api.conftest import auth

P = "/api/v1/projects/acme/workflows"

#: What an author writes: no labels on most nodes, no positions, defaults left out.
AUTHORED = """\
format_version: "1"
id: short
name: Short
project: acme
nodes:
  - id: start
    type: trigger
    config: {event: pr_opened}
  - id: qc
    type: action
    label: Quality check
    position: {x: 0, y: 120}
    config: {action: quality_check, quality_threshold: 80}
  - id: notify
    type: notification
    config: {channel: dashboard, message: "score {quality_score}"}
edges:
  - {id: e1, source: start, target: qc}
  - {id: e2, source: qc, target: notify}
"""


def _import(client, text: str, fmt: str = "yaml"):
    r = client.post(P + "/import", content=text, headers={**auth("ed"), "Content-Type": f"application/{fmt}"})
    assert r.status_code == 201, r.text
    return r.json()


def test_export_gives_back_what_the_author_wrote(client, project):
    _import(client, AUTHORED)
    r = client.get(P + "/short/export?format=yaml", headers=auth("vic"))
    assert r.status_code == 200
    assert yaml.safe_load(r.text) == yaml.safe_load(AUTHORED)
    as_json = client.get(P + "/short/export?format=json", headers=auth("vic")).json()
    assert as_json == yaml.safe_load(AUTHORED)
    # the stored spec still has every default (what the DAG runs with)
    stored = client.get(P + "/short", headers=auth("vic")).json()["spec"]
    assert stored["nodes"][0]["position"] == {"x": 0.0, "y": 0.0} and stored["enabled"] is True
    assert stored["nodes"][1]["config"]["analyzers"] == ["ruff", "bandit", "radon"]


def test_export_reimports_as_the_same_workflow(client, project):
    _import(client, AUTHORED)
    exported = client.get(P + "/short/export?format=yaml", headers=auth("vic")).text
    assert "analyzers" not in exported and "enabled" not in exported  # no defaults to carry along
    copy = _import(client, exported.replace("id: short", "id: short-copy", 1))
    original = client.get(P + "/short", headers=auth("vic")).json()["spec"]
    assert copy["spec"] | {"id": "short"} == original
    assert client.get(P + "/short-copy/export?format=yaml", headers=auth("vic")).text == exported.replace(
        "id: short", "id: short-copy", 1)


def test_export_of_a_complete_document_is_minimal_too(client, project):
    """A document written with every default (what the editor and old versions hold) exports the same short file."""
    _import(client, AUTHORED)
    complete = client.get(P + "/short", headers=auth("vic")).json()["spec"]
    r = client.post("/api/v1/workflows/export?format=json", json=complete, headers=auth("vic"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == yaml.safe_load(AUTHORED)
    assert 'filename="acme__short.json"' in r.headers["content-disposition"]
    bad = complete | {"nodes": complete["nodes"][:1] + [{"id": "x", "type": "nope", "config": {}}]}
    r = client.post("/api/v1/workflows/export", json=bad, headers=auth("vic"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert any(e["pointer"].startswith("/nodes/1") for e in r.json()["errors"])
