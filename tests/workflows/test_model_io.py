"""Serialization round trips (hypothesis), import errors, JSON Schemas and CEL expressions."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings

from include.workflows import expressions
from include.workflows.model import Workflow
from include.workflows.nodes import ACTION_CONFIGS, NOTIFICATION_CONFIGS
from include.workflows.schema import node_type_schemas, workflow_schema
from include.workflows.serialization import (
    WorkflowParseError,
    from_json,
    from_yaml,
    load,
    to_dict,
    to_json,
    to_yaml,
)
from include.workflows.templates_store import builtin_templates
from include.workflows.validation import WorkflowInvalid
from tests.workflows.strategies import workflows

ROUND_TRIP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@ROUND_TRIP
@given(workflows())
def test_json_round_trip_is_lossless(doc):
    wf = Workflow.model_validate(doc)
    text = to_json(wf)
    back = from_json(text)
    assert back == wf
    assert to_json(back) == text
    assert json.loads(text)["format_version"] == "1"


@ROUND_TRIP
@given(workflows())
def test_yaml_round_trip_is_lossless(doc):
    wf = Workflow.model_validate(doc)
    text = to_yaml(wf)
    back = from_yaml(text)
    assert back == wf
    assert to_yaml(back) == text
    # and across formats
    assert from_json(to_json(from_yaml(text))) == wf


@pytest.mark.parametrize("name", ["Í|\U000694e5\x85", "line\u2028separator", "para\u2029graph", "nel\x85 inside"])
def test_yaml_keeps_yaml_only_line_breaks(valid_doc, name):
    """Found by the round-trip property: PyYAML wrote a trailing NEL raw and read it back as a space."""
    wf = Workflow.model_validate({**valid_doc, "name": name})
    assert from_yaml(to_yaml(wf)).name == name


def test_export_is_readable_and_omits_unset_optionals(valid_doc):
    data = to_dict(Workflow.model_validate(valid_doc))
    assert list(data)[:3] == ["format_version", "id", "name"]
    assert list(data["nodes"][1]) == ["id", "type", "label", "position", "config"]
    assert next(iter(data["nodes"][1]["config"])) == "action"
    assert "cron" not in data["nodes"][0]["config"]
    assert "label" not in data["edges"][0] and "branch" not in data["edges"][0]


def test_syntax_errors_name_the_line():
    with pytest.raises(WorkflowParseError, match="line 3, column 3"):
        from_yaml("id: x\nnodes: [a,\n  - b\nname: y\n")
    with pytest.raises(WorkflowParseError, match=r"invalid JSON.*line 1"):
        from_json('{"id": ')


def test_import_errors_name_the_field(valid_doc):
    valid_doc["nodes"][1]["config"]["quality_threshold"] = 300
    with pytest.raises(WorkflowInvalid) as info:
        from_json(json.dumps(valid_doc))
    assert [(p.node_id, p.field) for p in info.value.problems] == [("qc", "quality_threshold")]
    with pytest.raises(WorkflowInvalid) as info:
        from_yaml("format_version: '7'\nid: x\n")
    assert info.value.problems[0].field == "format_version"
    with pytest.raises(WorkflowInvalid, match="mapping"):
        from_yaml("- 1\n- 2\n")


def test_yaml_is_loaded_safely():
    with pytest.raises(WorkflowParseError):
        from_yaml("!!python/object/apply:os.system ['echo pwned']\n")


def test_every_node_type_and_subtype_publishes_a_json_schema():
    schemas = node_type_schemas()
    assert set(schemas) == {"trigger", "action", "condition", "integration", "notification"}
    assert set(schemas["action"]["subtypes"]) == set(ACTION_CONFIGS)
    assert set(schemas["notification"]["subtypes"]) == set(NOTIFICATION_CONFIGS)
    text = json.dumps(schemas)
    assert '"anyOf"' not in text, "optional fields must render as plain optional fields"
    for entry in schemas.values():
        jsonschema.Draft202012Validator.check_schema(entry["config"])
        for sub in entry.get("subtypes", {}).values():
            jsonschema.Draft202012Validator.check_schema(sub)
    cron = schemas["trigger"]["config"]["properties"]["cron"]
    assert cron["type"] == "string" and "default" not in cron
    qc = schemas["action"]["subtypes"]["quality_check"]["properties"]
    assert qc["quality_threshold"]["maximum"] == 100 and qc["retries"]["default"] == 2
    jsonschema.Draft202012Validator.check_schema(workflow_schema())


def test_schemas_agree_with_the_models_on_the_templates():
    schemas = node_type_schemas()
    whole = jsonschema.Draft202012Validator(workflow_schema())
    for item in builtin_templates():
        doc = to_dict(item["workflow"])
        assert not list(whole.iter_errors(doc))
        for node in doc["nodes"]:
            validator = jsonschema.Draft202012Validator(schemas[node["type"]]["config"])
            assert not list(validator.iter_errors(node["config"])), node["id"]
    bad = {"action": "quality_check", "quality_threshold": 101}
    assert list(jsonschema.Draft202012Validator(schemas["action"]["config"]).iter_errors(bad))


def test_cel_conditions():
    variables = {"event": {"kind": "pr_opened", "labels": ["bug"]}, "nodes": {"qc": {"quality_score": 72.5}}}
    assert expressions.evaluate("nodes.qc.quality_score < 80 && 'bug' in event.labels", variables) is True
    assert expressions.evaluate('event.kind == "push"', variables) is False
    assert expressions.referenced_nodes('nodes.qc.x > 1 || nodes["a-b"].y') == {"qc", "a-b"}
    with pytest.raises(expressions.ExpressionError, match="missing"):
        expressions.evaluate("nodes.qc.missing > 1", variables)
    with pytest.raises(expressions.ExpressionError, match="bool"):
        expressions.evaluate("1 + 1", variables)
    assert "unknown function" in expressions.check("__import__('os').system('id')")
    assert expressions.check("[1, 2].all(x, x > 0) && event.labels.exists(l, l.startsWith('b'))") is None


@pytest.mark.parametrize("text,fmt,fragments", [
    ("id: a\nname: x\nid: b\n", "yaml", ("duplicate key 'id'", "first given at line 1", "line 3, column 1")),
    ("nodes:\n  - id: n\n    config:\n      event: manual\n      event: push\n", "yaml",
     ("duplicate key 'event'", "first given at line 4", "line 5, column 7")),
    ('{"id": "a", "nodes": [{"id": "n", "id": "m"}]}', "json", ("duplicate key 'id'",)),
])
def test_duplicate_keys_are_refused_with_the_key_and_line(text, fmt, fragments):
    with pytest.raises(WorkflowParseError) as info:
        load(text, fmt)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_yaml_merge_keys_may_be_overridden():
    from include.workflows.serialization import parse_text

    assert parse_text("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n", "yaml")["use"] == {"x": 1, "y": 3}
