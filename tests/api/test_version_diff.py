"""GET …/versions/{version}/diff?against=: nodes, edges, config keys and settings that changed between two versions."""

from __future__ import annotations

import copy

from tests.api.conftest import auth

W = "/api/v1/projects/acme/workflows/review"


def test_diff_names_what_changed(client, workflow):
    spec = copy.deepcopy(workflow["spec"])
    spec["name"] = "Review v2"
    spec["nodes"][1]["config"]["message"] = "changed"
    spec["nodes"][1]["config"]["level"] = "warning"
    spec["nodes"][1]["position"] = {"x": 10, "y": 20}
    spec["nodes"].append({"id": "label", "type": "action", "config": {"action": "label_pr", "labels": ["seen"]}})
    spec["edges"] = [{"id": "e2", "source": "start", "target": "label"},
                     {"id": "e3", "source": "label", "target": "notify"}]
    r = client.put(W, json=spec, headers={**auth("ed"), "If-Match": '"1"'})
    assert r.status_code == 200, r.text

    diff = client.get(W + "/versions/1/diff?against=2", headers=auth("vic"))
    assert diff.status_code == 200, diff.text
    d = diff.json()
    assert (d["base"], d["head"], d["identical"]) == (1, 2, False)
    assert d["settings"] == [{"field": "name", "before": "Review", "after": "Review v2"}]
    assert [n["id"] for n in d["nodes"]["added"]] == ["label"] and d["nodes"]["removed"] == []
    [changed] = d["nodes"]["changed"]
    assert changed["id"] == "notify" and changed["fields"] == ["position", "config"]
    assert changed["config_keys"] == ["message", "level"]
    assert changed["before"]["config"]["message"] == "found {issues_count}"
    assert [e["id"] for e in d["edges"]["added"]] == ["e2", "e3"]
    assert [e["id"] for e in d["edges"]["removed"]] == ["e1"]

    back = client.get(W + "/versions/2/diff?against=1", headers=auth("vic")).json()
    assert [n["id"] for n in back["nodes"]["removed"]] == ["label"]
    assert back["settings"] == [{"field": "name", "before": "Review v2", "after": "Review"}]
    current = client.get(W + "/versions/1/diff", headers=auth("vic")).json()  # against the current version
    assert current == d
    same = client.get(W + "/versions/2/diff", headers=auth("vic")).json()
    assert (same["base"], same["head"], same["identical"]) == (2, 2, True) and same["nodes"]["changed"] == []


def test_diff_of_a_missing_version_or_by_an_outsider_is_404(client, workflow):
    r = client.get(W + "/versions/1/diff?against=9", headers=auth("vic"))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert "version 9" in r.json()["detail"]
    assert client.get(W + "/versions/1/diff", headers=auth("mallory")).status_code == 404
