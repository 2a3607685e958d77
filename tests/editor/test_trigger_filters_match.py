"""The editor's trigger form shows the fields the validator lets each event have.

editor/src/model/triggerFilters.ts mirrors include/workflows/nodes.py's ``TRIGGER_FILTERS`` (the JSON
Schema the API publishes cannot say "branches only for these events"); a filter allowed or refused on
one side only fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from include.workflows.nodes import TRIGGER_FILTERS
from include.workflows.validation import validate_workflow

SOURCE = (Path(__file__).resolve().parents[2] / "editor" / "src" / "model" / "triggerFilters.ts").read_text()


def editor_filters() -> dict[str, set[str]]:
    block = re.search(r"TRIGGER_FILTERS[^=]*= \{(.*?)\n\};", SOURCE, re.DOTALL)
    assert block, "triggerFilters.ts no longer has the TRIGGER_FILTERS literal this test reads"
    rows = re.findall(r"(\w+): \[([^\]]*)\]", block.group(1))
    return {event: set(re.findall(r'"(\w+)"', names)) for event, names in rows}


def test_the_editor_offers_each_event_exactly_the_filters_the_model_allows():
    assert editor_filters() == {event: set(names) for event, names in TRIGGER_FILTERS.items()}


def test_the_validator_refuses_what_the_editor_hides():
    def problems(config: dict) -> list[str]:
        node = {"id": "t", "type": "trigger", "label": "", "position": {"x": 0, "y": 0}, "config": config}
        doc = {"id": "w", "name": "w", "project": "p", "nodes": [node], "edges": []}
        return [str(p) for p in validate_workflow(doc) if p.node_id == "t"]

    for event, allowed in editor_filters().items():
        base = {"event": event, **({"cron": "0 3 * * *"} if event == "schedule" else {})}
        for name in ("branches", "paths", "labels"):
            refused = problems({**base, name: ["x"]})
            assert bool(refused) == (name not in allowed), (event, name, refused)
