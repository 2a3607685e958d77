"""The OpenAPI document says what the routes need: If-Match where it is required, real workflow bodies."""

from __future__ import annotations

import pytest

from tests.api.conftest import auth

ITEM = "/api/v1/projects/{project}/workflows/{workflow}"


@pytest.fixture(scope="module")
def document() -> dict:
    from include.api.app import create_app

    return create_app().openapi()


def _if_match(operation: dict) -> dict | None:
    return next((p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == "if-match"), None)


#: Every write that makes a new version of a workflow: each names the revision it changes.
VERSION_WRITES = [
    (ITEM, "put"), (ITEM + "/nodes", "post"), (ITEM + "/nodes/{node_id}", "put"),
    (ITEM + "/nodes/{node_id}", "delete"), (ITEM + "/nodes/{node_id}/position", "put"), (ITEM + "/edges", "post"),
    (ITEM + "/edges/{edge_id}", "put"), (ITEM + "/edges/{edge_id}", "delete"),
    (ITEM + "/versions/{version}/restore", "post"),
]


def test_if_match_is_required_exactly_where_the_route_requires_it(document):
    for path, method in VERSION_WRITES:
        operation = document["paths"][path][method]
        assert _if_match(operation)["required"] is True, (method, path)
        assert "428" in operation["responses"]
    assert _if_match(document["paths"][ITEM]["delete"])["required"] is False  # a delete may go without


def test_workflow_node_and_edge_bodies_have_their_schema(document):
    def body(path: str, method: str) -> dict:
        return document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]

    for path, method in ((ITEM, "put"), ("/api/v1/workflows/validate", "post"), ("/api/v1/workflows/export", "post")):
        schema = body(path, method)
        assert schema.get("type") == "object" and {"id", "name", "project"} <= set(schema["required"])
        assert "nodes" in schema["properties"] and "edges" in schema["properties"]
    export = document["paths"][ITEM + "/export"]["get"]["responses"]["200"]["content"]
    assert export["application/yaml"]["schema"] == export["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Workflow"}
    node = body(ITEM + "/nodes", "post")
    assert node["discriminator"]["propertyName"] == "type" and len(node["oneOf"]) == 5
    assert body(ITEM + "/edges", "post")["required"] == ["id", "source", "target"]


def test_a_missing_if_match_is_still_428_not_422(client, workflow, document):
    """Declared required, the header is checked by request validation, which still answers RFC 6585's 428."""
    assert _if_match(document["paths"][ITEM]["put"])["required"] is True
    W = "/api/v1/projects/acme/workflows/review"
    for r in (client.put(W, json=workflow["spec"], headers=auth("ed")),
              client.post(W + "/versions/1/restore", headers=auth("ed")),
              client.put(W + "/nodes/notify/position", json={"x": 1, "y": 2}, headers=auth("ed"))):
        assert r.status_code == 428 and r.headers["content-type"] == "application/problem+json", r.text
        assert "If-Match" in r.json()["detail"]
