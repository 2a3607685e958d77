"""A document may hold any JSON where a node type or subtype belongs: validation reports it, never raises.

Found by schemathesis once the OpenAPI document typed workflow bodies: ``"type": {}`` and
``"channel": {}`` raised ``TypeError: unhashable type`` (a 500) instead of a problem.
"""

from __future__ import annotations

import pytest

from include.workflows.validation import validate_workflow

TRIGGER = {"id": "start", "type": "trigger", "config": {"event": "manual"}}


@pytest.mark.parametrize(("node", "field"), [
    ({"id": "n", "type": {}, "config": {"channel": "dashboard", "message": "x"}}, "type"),
    ({"id": "n", "type": ["trigger"], "config": {}}, "type"),
    ({"id": "n", "type": "notification", "config": {"channel": {}, "message": "x"}}, "channel"),
    ({"id": "n", "type": "action", "config": {"action": ["label_pr"]}}, "action"),
])
def test_non_string_types_and_subtypes_are_problems(node, field):
    doc = {"id": "w", "name": "W", "project": "p", "nodes": [TRIGGER, node],
           "edges": [{"id": "e", "source": "start", "target": "n"}]}
    problems = validate_workflow(doc)
    assert [p.field for p in problems if p.node_id == "n"] == [field], problems
    assert not any("trigger" in p.message and p.node_id == "n" for p in problems if p.field != field)
