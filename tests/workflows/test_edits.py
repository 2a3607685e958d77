"""Graph edits on a workflow document, and the file a parse request names."""

from __future__ import annotations

import copy

import pytest

from include.workflows import edits
from include.workflows.validation import validate_workflow


def test_adding_a_node_after_another_connects_it_in_one_edit(valid_doc):
    doc = copy.deepcopy(valid_doc)
    edits.add_node(doc, {"id": "late", "type": "notification", "config": {"channel": "dashboard", "message": "x"}},
                   after="tell")
    assert doc["edges"][-1] == {"id": "tell-late", "source": "tell", "target": "late"}
    assert validate_workflow(doc) == []
    edits.add_node(doc, {"id": "later"}, after="gate", branch="false")
    assert doc["edges"][-1] == {"id": "gate-later", "source": "gate", "target": "later", "branch": "false"}
    with pytest.raises(edits.ItemExists, match="'late' already exists"):
        edits.add_node(doc, {"id": "late"})  # an id the document holds
    with pytest.raises(edits.ItemNotFound, match="Node 'nope' not found"):
        edits.add_node(doc, {"id": "other"}, after="nope")


def test_removing_a_node_can_reconnect_its_neighbours_once_per_pair(valid_doc):
    doc = copy.deepcopy(valid_doc)
    edits.remove_node(doc, "qc", reconnect=True)
    assert {(e["source"], e["target"]) for e in doc["edges"]} >= {("start", "gate")}
    assert not any("qc" in (e["source"], e["target"]) for e in doc["edges"])
    edits.remove_node(doc, "comment")  # without reconnect its edges just go
    assert not any("comment" in (e["source"], e["target"]) for e in doc["edges"])
    with pytest.raises(edits.ItemNotFound):
        edits.remove_node(doc, "comment")


def test_edge_and_position_edits(valid_doc):
    doc = copy.deepcopy(valid_doc)
    edits.move_node(doc, "qc", {"x": 1.0, "y": 2.0})
    assert doc["nodes"][1]["position"] == {"x": 1.0, "y": 2.0}
    edits.replace_edge(doc, {"id": "e5", "source": "comment", "target": "tell"})
    with pytest.raises(edits.ItemExists):
        edits.add_edge(doc, {"id": "e5", "source": "qc", "target": "tell"})
    edits.remove_edge(doc, "e5")
    with pytest.raises(edits.ItemNotFound, match="Edge 'e5' not found"):
        edits.replace_edge(doc, {"id": "e5", "source": "comment", "target": "tell"})


def test_a_parse_request_names_the_bundle_file_under_the_workflow_bundle(tmp_path, monkeypatch):
    """Under the git bundle the row must name that bundle: a dags-folder request would only re-parse the loader."""
    from include.settings import get_settings
    from include.workflows import bundle, parse_requests

    monkeypatch.setenv("AUTOPR_WORKFLOWS_BUNDLE_URL", (tmp_path / "remote.git").as_uri())
    get_settings.cache_clear()
    try:
        assert parse_requests._parse_target("acme", "review") == (bundle.BUNDLE_NAME, "acme__review.py")
    finally:
        get_settings.cache_clear()
