"""The editor's palette offers exactly the node types and subtypes the workflow model knows.

The palette is TypeScript (editor/src/model/catalogue.ts); a subtype added to
include/workflows/nodes.py without a palette entry (or the reverse) fails here.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

from include.workflows.nodes import ACTION_CONFIGS, NODE_TYPES, NOTIFICATION_CONFIGS, TriggerEvent
from include.workflows.validation import validate_workflow

CATALOGUE = (Path(__file__).resolve().parents[2] / "editor" / "src" / "model" / "catalogue.ts").read_text()
ENTRIES = re.findall(r'entry\("(\w+)", (?:"(\w+)"|null), "[^"]+", "[^"]+", (\{[^}]*\})\)', CATALOGUE)


def test_every_type_and_subtype_is_in_the_palette():
    assert len(ENTRIES) == 7 + 8 + 1 + 1 + 3, "catalogue.ts entries no longer match the pattern this test reads"
    offered: dict[str, set[str]] = {}
    for node_type, subtype, _config in ENTRIES:
        offered.setdefault(node_type, set()).add(subtype)
    assert set(offered) == set(NODE_TYPES)
    assert offered["trigger"] == set(typing.get_args(TriggerEvent))
    assert offered["action"] == set(ACTION_CONFIGS)
    assert offered["notification"] == set(NOTIFICATION_CONFIGS)
    assert offered["condition"] == {""} and offered["integration"] == {""}


def test_starting_configs_name_their_subtype_and_are_otherwise_plain():
    """A dropped node's config only needs what the schema cannot default; the validator says the rest."""
    for node_type, subtype, config in ENTRIES:
        node = {"id": "n", "type": node_type, "label": "", "position": {"x": 0, "y": 0},
                "config": eval_object(config)}  # fmt: skip
        problems = validate_workflow({"id": "w", "name": "w", "project": "p", "nodes": [node], "edges": []})
        assert not [p for p in problems if p.field in ("event", "action", "channel")], (node_type, subtype, problems)


def eval_object(text: str) -> dict:
    """The tiny JS object literals of the catalogue ({ event: "schedule", cron: "0 3 * * *" }) as a dict."""
    return {k: v for k, v in re.findall(r'(\w+): "([^"]*)"', text)}
