"""Per-node and graph validation: every invalid mutation is rejected with a pointer to where it is."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from include.workflows.templates_store import builtin_templates
from include.workflows.validation import WorkflowInvalid, load_workflow, validate_workflow


def node(doc: dict, node_id: str) -> dict:
    return next(n for n in doc["nodes"] if n["id"] == node_id)


def edge(doc: dict, edge_id: str) -> dict:
    return next(e for e in doc["edges"] if e["id"] == edge_id)


def cfg(node_id: str, **changes) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        config = node(doc, node_id)["config"]
        for key, value in changes.items():
            if value is DELETE:
                config.pop(key, None)
            else:
                config[key] = value

    return mutate


DELETE = object()


def add_edge(**e) -> Callable[[dict], None]:
    return lambda doc: doc["edges"].append(e)


def add_node(**n) -> Callable[[dict], None]:
    return lambda doc: doc["nodes"].append(n)


def set_top(**changes) -> Callable[[dict], None]:
    return lambda doc: doc.update(changes)


# (name, mutation, expected pointer: dict of Problem fields that must match, message fragment)
MUTATIONS = [
    # --- node configs --------------------------------------------------------------------------
    ("threshold above 100", cfg("qc", quality_threshold=101), {"node_id": "qc", "field": "quality_threshold"}, "less than or equal"),
    ("threshold negative", cfg("qc", quality_threshold=-1), {"node_id": "qc", "field": "quality_threshold"}, "greater"),
    ("no analyzers", cfg("qc", analyzers=[]), {"node_id": "qc", "field": "analyzers"}, "at least 1"),
    ("unknown analyzer", cfg("qc", analyzers=["pylint"]), {"node_id": "qc", "field": "analyzers.0"}, "ruff"),
    ("duplicate analyzer", cfg("qc", analyzers=["ruff", "ruff"]), {"node_id": "qc", "field": "analyzers"}, "duplicate"),
    ("bad mode", cfg("qc", mode="deep"), {"node_id": "qc", "field": "mode"}, "fast"),
    ("unknown config field", cfg("qc", colour="red"), {"node_id": "qc", "field": "colour"}, "not permitted"),
    ("retries above 10", cfg("qc", retries=11), {"node_id": "qc", "field": "retries"}, "10"),
    ("retry delay zero", cfg("qc", retry_delay_seconds=0), {"node_id": "qc", "field": "retry_delay_seconds"}, "1"),
    ("timeout too long", cfg("qc", timeout_seconds=86401), {"node_id": "qc", "field": "timeout_seconds"}, "86400"),
    ("unknown action", cfg("qc", action="deploy"), {"node_id": "qc", "field": "action"}, "quality_check"),
    ("missing action", cfg("qc", action=DELETE), {"node_id": "qc", "field": "action"}, "must be one of"),
    ("unknown placeholder", cfg("comment", template="Found {issue_count}"), {"node_id": "comment", "field": "template"}, "{issue_count}"),
    ("malformed template", cfg("comment", template="Found {issues_count"), {"node_id": "comment", "field": "template"}, "malformed"),
    ("attribute placeholder", cfg("comment", template="{repository.__class__}"), {"node_id": "comment", "field": "template"}, "unknown placeholder"),
    ("empty template", cfg("comment", template=""), {"node_id": "comment", "field": "template"}, "at least 1"),
    ("label_pr without labels", lambda d: node(d, "comment").update(config={"action": "label_pr", "labels": []}), {"node_id": "comment", "field": "labels"}, "at least 1"),
    ("request_review without a source", lambda d: node(d, "comment").update(config={"action": "request_review"}), {"node_id": "comment", "field": "reviewers"}, "use_recommendations"),
    ("merge method", lambda d: node(d, "comment").update(config={"action": "merge_pr", "method": "fast-forward"}), {"node_id": "comment", "field": "method"}, "squash"),
    ("create_issue bad title placeholder", lambda d: node(d, "comment").update(config={"action": "create_issue", "title_template": "{nope}"}), {"node_id": "comment", "field": "title_template"}, "{nope}"),
    ("min_confidence above 1", lambda d: node(d, "comment").update(config={"action": "code_review", "min_confidence": 1.5}), {"node_id": "comment", "field": "min_confidence"}, "1"),
    ("label placeholder typo", lambda d: node(d, "comment").update(config={"action": "label_pr", "labels": ["sev-{severty}"]}), {"node_id": "comment", "field": "labels"}, "[0]: unknown placeholder {severty}"),
    ("issue label placeholder", lambda d: node(d, "comment").update(config={"action": "create_issue", "title_template": "t", "labels": ["{nope}"]}), {"node_id": "comment", "field": "labels"}, "unknown placeholder {nope}"),
    ("integration endpoint placeholder", cfg("hook", endpoint="/runs/{pr_numbr}"), {"node_id": "hook", "field": "endpoint"}, "{pr_numbr}"),
    ("integration header placeholder", cfg("hook", headers={"X-Run": "{run}"}), {"node_id": "hook", "field": "headers"}, "X-Run: unknown placeholder {run}"),
    ("integration body placeholder deep", cfg("hook", body={"pr": {"ids": [1, "{pr_numbr}"]}}), {"node_id": "hook", "field": "body"}, "pr.ids[1]: unknown placeholder {pr_numbr}"),
    ("integration body unbalanced brace", cfg("hook", body={"json": "{not closed"}), {"node_id": "hook", "field": "body"}, "json: malformed template"),
    ("integration method", cfg("hook", method="FETCH"), {"node_id": "hook", "field": "method"}, "GET"),
    ("integration absolute url", cfg("hook", endpoint="https://evil.example/x"), {"node_id": "hook", "field": "endpoint"}, "connection"),
    ("integration status range", cfg("hook", expected_status=[200, 700]), {"node_id": "hook", "field": "expected_status.1"}, "599"),
    ("integration no connection", cfg("hook", connection_id=DELETE), {"node_id": "hook", "field": "connection_id"}, "required"),
    ("notification channel", cfg("tell", channel="pager"), {"node_id": "tell", "field": "channel"}, "slack"),
    ("dashboard level", cfg("tell", level="fatal"), {"node_id": "tell", "field": "level"}, "info"),
    ("email address", lambda d: node(d, "tell").update(config={"channel": "email", "to": ["not-an-email"], "subject": "s", "message": "m"}), {"node_id": "tell", "field": "to.0"}, "email"),
    ("slack without message", lambda d: node(d, "tell").update(config={"channel": "slack", "connection_id": "s"}), {"node_id": "tell", "field": "message"}, "required"),
    ("bad CEL", cfg("gate", expression="nodes.qc.quality_score >="), {"node_id": "gate", "field": "expression"}, "syntax"),
    ("unknown CEL variable", cfg("gate", expression="score > 3"), {"node_id": "gate", "field": "expression"}, "'score'"),
    ("CEL python escape", cfg("gate", expression="__import__('os').system('x')"), {"node_id": "gate", "field": "expression"}, ""),
    ("CEL refers to missing node", cfg("gate", expression="nodes.ghost.x > 1"), {"node_id": "gate", "field": "expression"}, "ghost"),
    ("CEL refers to a later node", cfg("gate", expression="nodes.tell.x > 1"), {"node_id": "gate", "field": "expression"}, "does not run before"),
    ("CEL syntax error has a position", cfg("gate", expression="nodes.qc.quality_score >="), {"node_id": "gate", "field": "expression"}, "at line 1, column 24"),
    ("CEL position on a later line", cfg("gate", expression="nodes.qc.passed &&\n  )"), {"node_id": "gate", "field": "expression"}, "line 2, column 3: unexpected ')'"),
    ("condition reads an undeclared output", cfg("gate", expression="nodes.qc.quality_scor >= 60"), {"node_id": "gate", "field": "expression"}, "quality_check node 'qc' has no output 'quality_scor'; did you mean 'quality_score'?"),
    ("undeclared output read by index", cfg("gate", expression='nodes["qc"]["pased"]'), {"node_id": "gate", "field": "expression"}, "did you mean 'passed'?"),
    ("undeclared output, nothing close", cfg("gate", expression="nodes.start.colour == 'red'"), {"node_id": "gate", "field": "expression"}, "its outputs: event"),
    ("condition names a node that is not there", cfg("gate", expression="nodes.qcc.passed"), {"node_id": "gate", "field": "expression"}, "did you mean 'qc'?"),
    ("config key typo", cfg("qc", quality_treshold=70), {"node_id": "qc", "field": "quality_treshold"}, "did you mean 'quality_threshold'?"),
    ("placeholder typo", cfg("comment", template="Found {issue_count}"), {"node_id": "comment", "field": "template"}, "did you mean {issues_count}?"),
    ("action typo", cfg("qc", action="quality_chek"), {"node_id": "qc", "field": "action"}, "did you mean 'quality_check'?"),
    ("node type typo", lambda d: node(d, "tell").update(type="notifcation"), {"node_id": "tell", "field": "type"}, "did you mean 'notification'?"),
    ("edge target typo", add_edge(id="dangle", source="qc", target="tel"), {"edge_id": "dangle", "field": "target"}, "did you mean 'tell'?"),
    ("top-level key typo", set_top(nmae="x"), {"field": "nmae"}, "did you mean 'name'?"),
    ("schedule without cron", cfg("start", event="schedule", branches=[]), {"node_id": "start", "field": "cron"}, "required"),
    ("bad cron", cfg("start", event="schedule", branches=[], cron="every day"), {"node_id": "start", "field": "cron"}, "cron"),
    ("cron on a PR trigger", cfg("start", cron="0 * * * *"), {"node_id": "start", "field": "cron"}, "only allowed"),
    ("filter not for event", cfg("start", event="issue_created"), {"node_id": "start", "field": "branches"}, "no branches filter"),
    ("unknown trigger event", cfg("start", event="pr_merged"), {"node_id": "start", "field": "event"}, "pr_opened"),
    ("unknown node type", lambda d: node(d, "tell").update(type="webhook"), {"node_id": "tell", "field": "type"}, "trigger"),
    ("config not an object", lambda d: node(d, "tell").update(config="x"), {"node_id": "tell", "field": "config"}, "object"),
    ("bad node id", lambda d: node(d, "tell").update(id="has space"), {"node_id": "has space", "field": "id"}, "pattern"),
    ("unknown node field", lambda d: node(d, "tell").update(colour="red"), {"node_id": "tell", "field": "colour"}, "not permitted"),
    ("position not a number", lambda d: node(d, "tell").update(position={"x": "left", "y": 0}), {"node_id": "tell", "field": "position.x"}, "number"),
    # --- workflow header -----------------------------------------------------------------------
    ("bad workflow id", set_top(id="Has Caps"), {"field": "id"}, "pattern"),
    ("bad project", set_top(project=""), {"field": "project"}, "pattern"),
    ("version zero", set_top(version=0), {"field": "version"}, "greater"),
    ("unknown top-level field", set_top(owner="me"), {"field": "owner"}, "not permitted"),
    ("future format", set_top(format_version="2"), {"field": "format_version"}, "'1'"),
    ("empty name", set_top(name=""), {"field": "name"}, "at least 1"),
    # --- graph ---------------------------------------------------------------------------------
    ("no trigger", lambda d: d["nodes"].pop(0) and d["edges"].pop(0), {"field": "nodes"}, "exactly one trigger"),
    ("second trigger", add_node(id="start2", type="trigger", config={"event": "manual"}), {"node_id": "start2", "field": "type"}, "exactly one trigger"),
    ("cycle", add_edge(id="back", source="tell", target="qc"), {"edge_id": "back"}, "cycle"),
    ("self edge", add_edge(id="self", source="qc", target="qc"), {"edge_id": "self", "field": "target"}, "itself"),
    ("dangling target", add_edge(id="dangle", source="qc", target="ghost"), {"edge_id": "dangle", "field": "target"}, "ghost"),
    ("dangling source", add_edge(id="dangle", source="ghost", target="tell"), {"edge_id": "dangle", "field": "source"}, "ghost"),
    ("duplicate edge", add_edge(id="again", source="start", target="qc"), {"edge_id": "again"}, "duplicates edge 'e1'"),
    ("duplicate edge id", add_edge(id="e1", source="qc", target="tell"), {"edge_id": "e1", "field": "id"}, "duplicate edge id"),
    ("duplicate node id", add_node(id="qc", type="notification", config={"channel": "dashboard", "message": "x"}), {"node_id": "qc", "field": "id"}, "duplicate node id"),
    ("edge into trigger", add_edge(id="in", source="qc", target="start"), {"edge_id": "in", "field": "target"}, "into the trigger"),
    ("unreachable node", add_node(id="orphan", type="notification", config={"channel": "dashboard", "message": "x"}), {"node_id": "orphan"}, "not reachable"),
    ("condition missing false branch", lambda d: d["edges"].remove(edge(d, "e4")), {"node_id": "gate"}, "'false' branch"),
    ("condition edge without branch", lambda d: edge(d, "e4").pop("branch"), {"edge_id": "e4", "field": "branch"}, "'true' or 'false'"),
    ("two true branches", lambda d: edge(d, "e4").update(branch="true"), {"edge_id": "e4", "field": "branch"}, "already has a 'true'"),
    ("branch on a plain edge", lambda d: edge(d, "e1").update(branch="true"), {"edge_id": "e1", "field": "branch"}, "only edges leaving a condition"),
    ("bad branch value", lambda d: edge(d, "e3").update(branch="yes"), {"edge_id": "e3", "field": "branch"}, "'true'"),
    ("edge without id", lambda d: edge(d, "e1").update(id=""), {"field": "edges.0.id"}, "at least 1"),
    ("edges not a list", set_top(edges={"a": 1}), {"field": "edges"}, "list"),
    ("trigger without outgoing edge", lambda d: (d.__setitem__("nodes", d["nodes"][:1]), d.__setitem__("edges", []), d["nodes"].append({"id": "x", "type": "notification", "config": {"channel": "dashboard", "message": "m"}})), {"node_id": "start"}, "no outgoing edge"),
]


def test_the_fixture_and_templates_are_valid(valid_doc):
    assert validate_workflow(valid_doc) == []
    assert len(builtin_templates()) == 3


@pytest.mark.parametrize("name,mutate,pointer,fragment", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_invalid_mutation_is_rejected_with_a_pointer(valid_doc, name, mutate, pointer, fragment):
    doc = copy.deepcopy(valid_doc)
    mutate(doc)
    problems = validate_workflow(doc)
    assert problems, f"{name}: mutation was accepted"
    matching = [p for p in problems if all(getattr(p, k) == v for k, v in pointer.items())]
    assert matching, f"{name}: no problem points at {pointer}; got {[str(p) for p in problems]}"
    assert any(fragment in p.message for p in matching), f"{name}: {[p.message for p in matching]}"
    with pytest.raises(WorkflowInvalid) as info:
        load_workflow(doc)
    assert info.value.problems == problems


def test_all_problems_are_reported_at_once(valid_doc):
    doc = copy.deepcopy(valid_doc)
    node(doc, "qc")["config"]["quality_threshold"] = 500
    node(doc, "comment")["config"]["template"] = "{nope}"
    doc["edges"].append({"id": "loop", "source": "tell", "target": "qc"})
    doc["edges"].append({"id": "dangle", "source": "qc", "target": "ghost"})
    problems = validate_workflow(doc)
    pointers = {(p.node_id, p.edge_id, p.field) for p in problems}
    assert ("qc", None, "quality_threshold") in pointers
    assert ("comment", None, "template") in pointers
    assert (None, "dangle", "target") in pointers
    assert any(p.edge_id == "loop" and "cycle" in p.message for p in problems)


def test_problem_renders_its_pointer():
    from include.workflows.validation import Problem

    assert str(Problem(node_id="qc", field="mode", message="bad")) == "node 'qc', mode: bad"
    assert str(Problem(message="bad")) == "bad"


def test_non_mapping_input_is_a_problem_not_a_crash():
    assert validate_workflow([1, 2])[0].message == "a workflow must be an object"
    problems = validate_workflow({"id": "x", "name": "x", "project": "p", "nodes": ["oops"], "edges": [3]})
    assert {p.field for p in problems} >= {"nodes.0", "edges.0"}


def test_every_declared_output_of_an_upstream_node_may_be_read(valid_doc):
    from include.workflows.nodes import QualityCheckConfig

    for output in QualityCheckConfig.OUTPUTS:
        doc = copy.deepcopy(valid_doc)
        node(doc, "gate")["config"]["expression"] = f"has(nodes.qc.{output}) && has(nodes.start.event)"
        assert validate_workflow(doc) == [], output


@pytest.mark.parametrize("name,mutate,count", [
    ("unknown node type: no edge error for the edges into it", lambda d: node(d, "tell").update(type="webhook"), 1),
    ("misspelt trigger type: not also 'no trigger'", lambda d: node(d, "start").update(type="triger"), 1),
    ("broken config: its edges are not dangling", cfg("qc", mode="deep"), 1),
    ("broken config, a valid output read: only the config", lambda d: (cfg("qc", mode="deep")(d), cfg("gate", expression="nodes.qc.quality_score > 1")(d)), 1),
    ("broken config, a typo'd output read: two causes", lambda d: (cfg("qc", mode="deep")(d), cfg("gate", expression="nodes.qc.quality_scor > 1")(d)), 2),
    ("an output read twice is one problem", cfg("gate", expression="nodes.qc.scor > 1 || nodes.qc.scor < 0"), 1),
    ("unknown type of a node read by a condition: not checked", lambda d: (node(d, "qc").update(type="check"), cfg("gate", expression="nodes.qc.anything")(d)), 1),
])
def test_one_problem_per_root_cause(valid_doc, name, mutate, count):
    doc = copy.deepcopy(valid_doc)
    mutate(doc)
    problems = validate_workflow(doc)
    assert len(problems) == count, f"{name}: {[str(p) for p in problems]}"


def test_broken_node_is_still_checked_as_what_it_is(valid_doc):
    doc = copy.deepcopy(valid_doc)
    cfg("qc", mode="deep")(doc)
    cfg("gate", expression="nodes.qc.quality_scor > 1")(doc)
    [output] = [p for p in validate_workflow(doc) if p.node_id == "gate"]
    assert "quality_check node 'qc'" in output.message  # not the stand-in it is graph-checked as


@pytest.mark.parametrize("mutate,value", [
    (cfg("start", event="schedule", branches=[], cron="61 * * * *"), "61 * * * *"),
    (cfg("gate", expression="nodes.qc.quality_score >="), "nodes.qc.quality_score >="),
    (cfg("qc", analyzers=["ruff", "ruff"]), "ruff"),
])
def test_messages_name_the_value_once(valid_doc, mutate, value):
    doc = copy.deepcopy(valid_doc)
    mutate(doc)
    [problem] = validate_workflow(doc)
    assert problem.message.count(value) <= 1 and "(got" not in problem.message, problem.message


def test_every_node_type_and_subtype_declares_its_outputs():
    from include.workflows.nodes import NODE_TYPES
    from include.workflows.schema import node_type_schemas

    schemas = node_type_schemas()
    for node_type, (key, models) in NODE_TYPES.items():
        if key is None:
            assert models.OUTPUTS and schemas[node_type]["outputs"] == models.OUTPUTS, node_type
            continue
        for sub, model in models.items():
            assert model.OUTPUTS, sub
            assert schemas[node_type]["subtype_outputs"][sub] == model.OUTPUTS, sub
            assert "OUTPUTS" not in model.model_fields and "OUTPUTS" not in str(schemas[node_type]["subtypes"][sub])
