"""The server's validator rejects exactly the graphs the editor refuses to draw.

Both sides read tests/fixtures/invalid_graphs.json: the editor's vitest suite
(editor/src/model/fixtures.test.ts) checks its connection rules refuse each
offending edge; here ``validate_workflow`` must report a problem on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.workflows.validation import validate_workflow

FIXTURE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "invalid_graphs.json").read_text())


def test_the_valid_baseline_passes():
    assert validate_workflow(FIXTURE["valid"]) == []


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=[c["rule"] for c in FIXTURE["cases"]])
def test_server_rejects_the_graph_the_editor_refuses(case):
    problems = validate_workflow(case["workflow"])
    assert problems, f"{case['name']}: the server accepted a graph the editor refuses"
    on_edge = [p for p in problems if p.edge_id in case["edges_involved"]]
    assert on_edge, f"{case['name']}: no problem points at {case['edges_involved']}: {[str(p) for p in problems]}"


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=[c["rule"] for c in FIXTURE["cases"]])
def test_without_the_offending_edge_only_reachability_can_remain(case):
    """The fixture isolates one rule: minus the bad edge, no edge is wrong."""
    workflow = dict(case["workflow"], edges=[e for e in case["workflow"]["edges"] if e["id"] != case["bad_edge"]])
    assert [str(p) for p in validate_workflow(workflow) if p.edge_id] == []
