"""Workflow CRUD, optimistic concurrency, node/edge edits, versions, validate, import/export."""

from __future__ import annotations

import yaml

from tests.api.conftest import auth, workflow_doc

W = "/api/v1/projects/acme/workflows/review"


def test_create_read_list_and_compile(client, workflow, settings):
    assert workflow["current_version"] == 1 and workflow["revision"] == 1
    assert workflow["dag_id"] == "autopr__acme__review"
    assert workflow["airflow_url"].endswith("/dags/autopr__acme__review")
    r = client.get(W, headers=auth("vic"))
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    assert r.json()["spec"]["nodes"][1]["config"]["message"] == "found {issues_count}"
    # compiled into the workflows folder after the commit
    assert (settings.workflows_dir / "acme__review.py").exists()
    assert (settings.workflows_dir / "acme__review.json").exists()
    for i in range(3):
        client.post("/api/v1/projects/acme/workflows", json=workflow_doc(f"wf-{i}"), headers=auth("ed"))
    page = client.get("/api/v1/workflows?project=acme&limit=2&offset=1", headers=auth("vic")).json()
    assert page["total"] == 4 and len(page["items"]) == 2 and page["offset"] == 1
    assert client.get("/api/v1/workflows", headers=auth("mallory")).json()["total"] == 0
    assert client.get("/api/v1/workflows?project=acme", headers=auth("mallory")).status_code == 404


def test_create_conflicts_and_invalid(client, workflow):
    r = client.post("/api/v1/projects/acme/workflows", json=workflow_doc(), headers=auth("ed"))
    assert r.status_code == 409 and r.json()["errors"][0]["pointer"] == "/id"
    r = client.post("/api/v1/projects/acme/workflows", json=workflow_doc("x", project="other"), headers=auth("ed"))
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/project"
    bad = workflow_doc("bad")
    bad["nodes"][1]["config"]["message"] = "{nope}"
    bad["edges"].append({"id": "e2", "source": "notify", "target": "ghost"})
    r = client.post("/api/v1/projects/acme/workflows", json=bad, headers=auth("ed"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    errors = r.json()["errors"]
    assert {"pointer": "/nodes/1/config/message", "node_id": "notify", "field": "message"}.items() <= {
        k: v for e in errors for k, v in e.items() if e.get("node_id") == "notify"}.items()
    assert any(e.get("edge_id") == "e2" and e["pointer"].startswith("/edges/1") for e in errors)
    assert client.get("/api/v1/projects/acme/workflows/bad", headers=auth("ed")).status_code == 404


def test_update_needs_if_match_and_stale_write_loses_nothing(client, workflow):
    doc = workflow["spec"] | {"name": "Renamed"}
    assert client.put(W, json=doc, headers=auth("ed")).status_code == 428
    assert client.put(W, json=doc, headers={**auth("ed"), "If-Match": "nonsense"}).status_code == 400
    r = client.put(W, json=doc, headers={**auth("ed"), "If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"' and r.json()["current_version"] == 2
    # a second editor still holding revision 1 is refused; the first save is intact
    stale = workflow["spec"] | {"name": "Other rename"}
    r = client.put(W, json=stale, headers={**auth("alice"), "If-Match": '"1"'})
    assert r.status_code == 409 and r.headers["etag"] == '"2"' and "revision" in r.json()["detail"]
    current = client.get(W, headers=auth("vic")).json()
    assert current["name"] == "Renamed" and current["revision"] == 2
    assert [v["version"] for v in client.get(W + "/versions", headers=auth("vic")).json()] == [2, 1]
    # invalid update: 422 and nothing stored
    broken = current["spec"] | {"edges": []}
    r = client.put(W, json=broken, headers={**auth("ed"), "If-Match": '"2"'})
    assert r.status_code == 422 and any(e.get("node_id") == "notify" for e in r.json()["errors"])
    assert client.get(W, headers=auth("vic")).json()["revision"] == 2


def test_node_and_edge_edits_each_make_a_version(client, workflow):
    h = {**auth("ed"), "If-Match": '"1"'}
    node = {"id": "label", "type": "action", "config": {"action": "label_pr", "labels": ["reviewed"]}}
    assert client.post(W + "/nodes", json=node, headers={**auth("ed")}).status_code == 428
    r = client.post(W + "/edges", json={"id": "e2", "source": "start", "target": "label"}, headers=h)
    assert r.status_code == 422  # target does not exist yet: nothing saved
    r = client.post(W + "/nodes", json=node, headers=h)
    # unreachable until connected: the graph rule refuses the half-done edit
    assert r.status_code == 422 and any(e.get("node_id") == "label" for e in r.json()["errors"])
    # ...so a node is added *after* an existing one: node and edge in one version
    r = client.post(W + "/nodes?after=notify", json=node | {"id": "tail"}, headers=h)
    assert r.status_code == 201, r.text
    assert [(e["id"], e["source"], e["target"]) for e in r.json()["spec"]["edges"]][-1] == ("notify-tail", "notify", "tail")
    assert client.post(W + "/nodes?after=ghost", json=node | {"id": "t2"},
                       headers={**auth("ed"), "If-Match": '"2"'}).status_code == 404
    r = client.post(W + "/versions/1/restore", headers={**auth("ed"), "If-Match": '"2"'})
    assert r.status_code == 200
    h = {**auth("ed"), "If-Match": '"3"'}
    workflow = r.json()
    # add node + edge in one document save, then edit them one by one
    doc = workflow["spec"]
    doc["nodes"].append(node)
    doc["edges"].append({"id": "e2", "source": "start", "target": "label"})
    r = client.put(W, json=doc, headers=h)
    assert r.status_code == 200, r.text
    r = client.put(W + "/nodes/label/position", json={"x": 120, "y": 40}, headers={**auth("ed"), "If-Match": '"4"'})
    assert r.status_code == 200 and r.json()["spec"]["nodes"][2]["position"] == {"x": 120.0, "y": 40.0}
    node["config"]["labels"] = ["checked"]
    r = client.put(W + "/nodes/label", json=node, headers={**auth("ed"), "If-Match": '"5"'})
    assert r.status_code == 200 and r.json()["spec"]["nodes"][2]["config"]["labels"] == ["checked"]
    r = client.put(W + "/edges/e2", json={"source": "start", "target": "label", "label": "then"},
                   headers={**auth("ed"), "If-Match": '"6"'})
    assert r.status_code == 200 and r.json()["spec"]["edges"][1]["label"] == "then"
    assert client.post(W + "/nodes", json=node, headers={**auth("ed"), "If-Match": '"7"'}).status_code == 409
    r = client.delete(W + "/nodes/label", headers={**auth("ed"), "If-Match": '"7"'})
    assert r.status_code == 200 and [n["id"] for n in r.json()["spec"]["nodes"]] == ["start", "notify"]
    assert [e["id"] for e in r.json()["spec"]["edges"]] == ["e1"]
    assert client.delete(W + "/nodes/label", headers={**auth("ed"), "If-Match": '"8"'}).status_code == 404
    r = client.delete(W + "/edges/e1", headers={**auth("ed"), "If-Match": '"8"'})
    assert r.status_code == 422  # notify would be unreachable
    versions = client.get(W + "/versions", headers=auth("vic")).json()
    assert [v["version"] for v in versions] == [8, 7, 6, 5, 4, 3, 2, 1]
    assert versions[0]["comment"] == "removed node 'label'"


def test_versions_fetch_and_restore(client, workflow):
    doc = workflow["spec"] | {"description": "v2"}
    client.put(W, json=doc, headers={**auth("ed"), "If-Match": '"1"'})
    assert client.get(W + "/versions/1", headers=auth("vic")).json()["spec"]["description"] == ""
    assert client.get(W + "/versions/9", headers=auth("vic")).status_code == 404
    assert client.post(W + "/versions/1/restore", headers=auth("ed")).status_code == 428
    assert client.post(W + "/versions/1/restore", headers={**auth("ed"), "If-Match": '"1"'}).status_code == 409
    r = client.post(W + "/versions/1/restore", headers={**auth("ed"), "If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["current_version"] == 3 and r.json()["description"] == ""


def test_soft_delete_and_undelete(client, workflow, settings):
    assert client.delete(W, headers={**auth("ed"), "If-Match": '"7"'}).status_code == 409
    assert client.delete(W, headers=auth("ed")).status_code == 204
    assert client.get(W, headers=auth("vic")).status_code == 404
    assert not (settings.workflows_dir / "acme__review.py").exists()
    assert client.get("/api/v1/workflows?project=acme", headers=auth("vic")).json()["total"] == 0
    page = client.get("/api/v1/workflows?project=acme&include_deleted=true", headers=auth("vic")).json()
    assert page["items"][0]["deleted_at"] is not None
    r = client.post(W + "/undelete", headers=auth("ed"))
    assert r.status_code == 200 and r.json()["deleted_at"] is None and r.json()["current_version"] == 1
    assert (settings.workflows_dir / "acme__review.py").exists()


def test_validate_without_saving(client, project):
    r = client.post("/api/v1/workflows/validate", json=workflow_doc(), headers=auth("vic"))
    assert r.status_code == 200 and r.json() == {"valid": True, "problems": []}
    doc = workflow_doc()
    doc["nodes"].append({"id": "start", "type": "trigger", "config": {"event": "schedule", "cron": "not cron"}})
    r = client.post("/api/v1/workflows/validate", json=doc, headers=auth("vic"))
    assert r.status_code == 422
    assert any(e["pointer"] == "/nodes/2/config/cron" or e.get("field") == "cron" for e in r.json()["errors"])
    assert client.get("/api/v1/workflows?project=acme", headers=auth("vic")).json()["total"] == 0


def test_validate_knows_node_outputs_and_config_keys(client, project):
    doc = workflow_doc()
    doc["nodes"][1:1] = [
        {"id": "qc", "type": "action", "config": {"action": "quality_check", "quality_treshold": 60}},
        {"id": "gate", "type": "condition", "config": {"expression": "nodes.qc.quality_scor >= 60"}},
        {"id": "odd", "type": "webhook", "config": {}},
    ]
    doc["edges"] = [{"id": "e1", "source": "start", "target": "qc"}, {"id": "e2", "source": "qc", "target": "gate"},
                    {"id": "e3", "source": "gate", "target": "notify", "branch": "true"},
                    {"id": "e4", "source": "gate", "target": "odd", "branch": "false"}]
    r = client.post("/api/v1/workflows/validate", json=doc, headers=auth("vic"))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    errors = {e["pointer"]: e["message"] for e in r.json()["errors"]}
    assert errors == {  # one per root cause: the unknown type does not also make e4 dangle
        "/nodes/1/config/quality_treshold": "unknown field, not permitted here; did you mean 'quality_threshold'?",
        "/nodes/2/config/expression": "nodes.qc.quality_scor (line 1, column 10): quality_check node 'qc' has no "
                                      "output 'quality_scor'; did you mean 'quality_score'?",
        "/nodes/3/type": "unknown node type 'webhook'; use one of: trigger, action, condition, integration, "
                         "notification",
    }
    doc["nodes"][2]["config"]["expression"] = "nodes.qc.passed &&"
    r = client.post("/api/v1/workflows/validate", json=doc, headers=auth("vic"))
    assert "CEL syntax error at line 1, column 17" in {e["pointer"]: e["message"] for e in r.json()["errors"]}[
        "/nodes/2/config/expression"]


def test_import_export_json_and_yaml(client, workflow):
    text = client.get(W + "/export?format=yaml", headers=auth("vic"))
    assert text.status_code == 200 and text.headers["content-type"].startswith("application/yaml")
    doc = yaml.safe_load(text.text)
    assert doc["format_version"] == "1" and doc["nodes"][0]["id"] == "start"
    as_json = client.get(W + "/export", headers={**auth("vic"), "Accept": "application/json"})
    assert as_json.json() == doc
    assert client.get(W + "/export", headers={**auth("vic"), "Accept": "application/yaml"}).text == text.text
    doc["id"] = "copy"
    r = client.post("/api/v1/projects/acme/workflows/import", content=yaml.safe_dump(doc),
                    headers={**auth("ed"), "Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    exported = client.get("/api/v1/projects/acme/workflows/copy/export?format=json", headers=auth("vic")).json()
    assert exported | {"id": "review"} == as_json.json()
    r = client.post("/api/v1/projects/acme/workflows/import?format=yaml", content="nodes: [unclosed",
                    headers={**auth("ed"), "Content-Type": "text/plain"})
    assert r.status_code == 400 and "line" in r.json()["detail"]
    r = client.post("/api/v1/projects/acme/workflows/import?format=yaml", content="id: a\nname: b\nid: c\n",
                    headers={**auth("ed"), "Content-Type": "text/plain"})
    assert r.status_code == 400 and "duplicate key 'id'" in r.json()["detail"] and "line 3" in r.json()["detail"]
    r = client.post("/api/v1/projects/acme/workflows/import", content="x", headers={**auth("ed"), "Content-Type": "text/csv"})
    assert r.status_code == 415
    assert client.post("/api/v1/projects/acme/workflows/import", content=yaml.safe_dump(doc | {"id": "v"}),
                       headers={**auth("vic"), "Content-Type": "application/yaml"}).status_code == 403


def test_node_type_schemas(client, project):
    r = client.get("/api/v1/schemas/node-types", headers=auth("vic"))
    assert set(r.json()) == {"trigger", "action", "condition", "integration", "notification"}
    assert "quality_check" in client.get("/api/v1/schemas/node-types/action", headers=auth("vic")).json()["subtypes"]
    action = client.get("/api/v1/schemas/node-types/action", headers=auth("vic")).json()
    assert {"quality_score", "passed", "errors_count"} <= set(action["subtype_outputs"]["quality_check"])
    assert set(r.json()["trigger"]["outputs"]) == {"event"}
    assert client.get("/api/v1/schemas/node-types/bogus", headers=auth("vic")).status_code == 422
    assert "nodes" in client.get("/api/v1/schemas/workflow", headers=auth("vic")).json()["properties"]
    assert client.get("/api/v1/schemas/workflow").status_code == 401


def test_remove_middle_node_with_reconnect(client, workflow):
    node = {"id": "mid", "type": "action", "config": {"action": "label_pr", "labels": ["x"]}}
    doc = workflow["spec"]
    doc["nodes"].append(node)
    doc["edges"] = [{"id": "a", "source": "start", "target": "mid"}, {"id": "b", "source": "mid", "target": "notify"}]
    assert client.put(W, json=doc, headers={**auth("ed"), "If-Match": '"1"'}).status_code == 200
    assert client.delete(W + "/nodes/mid", headers={**auth("ed"), "If-Match": '"2"'}).status_code == 422
    r = client.delete(W + "/nodes/mid?reconnect=true", headers={**auth("ed"), "If-Match": '"2"'})
    assert r.status_code == 200, r.text
    assert [(e["source"], e["target"]) for e in r.json()["spec"]["edges"]] == [("start", "notify")]
