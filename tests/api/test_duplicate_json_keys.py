"""A JSON body that gives a key twice is refused, naming the key, and nothing stored changes."""

from __future__ import annotations

import json

from tests.api.conftest import auth

W = "/api/v1/projects/acme/workflows/review"


def _twice(spec: dict, key: str, first: object) -> str:
    """The spec as JSON text with ``key`` given twice: ``first``, then the spec's own value (which would win)."""
    text = json.dumps({k: v for k, v in spec.items() if k != key})
    return "{" + f"{json.dumps(key)}: {json.dumps(first)}, {json.dumps(key)}: {json.dumps(spec[key])}, " + text[1:]


def test_a_put_with_a_duplicate_key_is_refused_and_nothing_is_stored(client, workflow):
    body = _twice(workflow["spec"] | {"name": "Renamed"}, "name", "Lost name")
    r = client.put(W, content=body, headers={**auth("ed"), "If-Match": '"1"', "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "duplicate key 'name'" in r.json()["detail"]
    stored = client.get(W, headers=auth("vic")).json()
    assert stored["current_version"] == 1 and stored["spec"]["name"] == workflow["spec"]["name"]


def test_a_duplicate_key_inside_a_node_is_refused_too(client, workflow):
    spec = workflow["spec"]
    node = spec["nodes"][0]
    node_text = _twice(node, "type", "condition")
    others = json.dumps(spec["nodes"][1:])[1:-1]
    nodes_text = "[" + node_text + ("," + others if others else "") + "]"
    rest = json.dumps({k: v for k, v in spec.items() if k != "nodes"})
    body = '{"nodes": ' + nodes_text + ", " + rest[1:]
    assert json.loads(body)["nodes"][0]["type"] == node["type"]  # the parser alone would keep the last copy
    r = client.put(W, content=body, headers={**auth("ed"), "If-Match": '"1"', "Content-Type": "application/json"})
    assert r.status_code == 422 and "duplicate key 'type'" in r.json()["detail"], r.text
