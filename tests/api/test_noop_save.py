"""A save that changes nothing stores nothing: no version, same ETag."""

from __future__ import annotations

from tests.api.conftest import auth

W = "/api/v1/projects/acme/workflows/review"


def _versions(client) -> list[int]:
    return [v["version"] for v in client.get(W + "/versions", headers=auth("vic")).json()]


def test_unchanged_put_creates_no_version(client, workflow, settings):
    compiled = settings.workflows_dir / "acme__review.json"
    written = compiled.stat().st_mtime_ns
    r = client.put(W, json=workflow["spec"], headers={**auth("ed"), "If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    assert r.json()["current_version"] == 1 and r.json()["revision"] == 1
    assert _versions(client) == [1]
    assert compiled.stat().st_mtime_ns == written  # nothing recompiled
    # a real change still saves; the same document again with the old ETag is still a conflict
    changed = workflow["spec"] | {"name": "Renamed"}
    r = client.put(W, json=changed, headers={**auth("ed"), "If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"' and _versions(client) == [2, 1]
    r = client.put(W, json=changed, headers={**auth("ed"), "If-Match": '"1"'})
    assert r.status_code == 409 and _versions(client) == [2, 1]


def test_minimal_export_put_back_is_no_change(client, workflow):
    """The export leaves defaults out; saving it back is the same workflow, so still no version."""
    exported = client.get(W + "/export?format=json", headers=auth("vic")).json()
    r = client.put(W, json=exported, headers={**auth("ed"), "If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"1"' and _versions(client) == [1]


def test_moving_a_node_where_it_is_and_restoring_the_current_version_are_no_ops(client, workflow):
    h = {**auth("ed"), "If-Match": '"1"'}
    r = client.put(W + "/nodes/notify/position", json={"x": 0, "y": 0}, headers=h)
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    r = client.post(W + "/versions/1/restore", headers=h)
    assert r.status_code == 200 and r.headers["etag"] == '"1"' and _versions(client) == [1]
