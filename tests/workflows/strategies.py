"""Hypothesis strategies that generate VALID workflow documents (dicts as a user would write them).

Graphs are built in topological order so they are acyclic by construction:
every node after the trigger gets a parent among the earlier non-condition
nodes (so everything is reachable), each condition gets exactly one ``true``
and one ``false`` edge to later nodes, and extra edges only point forward.
"""

from __future__ import annotations

import string

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from include.workflows.nodes import TEMPLATE_PLACEHOLDERS

SLUG_ALPHABET = string.ascii_lowercase + string.digits + "_-"

slugs = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(string.ascii_lowercase + string.digits),
    st.text(SLUG_ALPHABET, max_size=20),
)
node_ids = st.builds(
    lambda head, tail: head + tail, st.sampled_from(string.ascii_lowercase), st.text(string.ascii_lowercase + string.digits + "_", max_size=10)
)
short_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60).filter(lambda s: s.strip())
label_names = st.text(string.ascii_letters + string.digits + "-_: ", min_size=1, max_size=20)
globs = st.sampled_from(["main", "release/*", "feature-*", "src/**/*.py", "*.md", "docs/*", "v[0-9]*"])
placeholder = st.sampled_from(sorted(TEMPLATE_PLACEHOLDERS)).map(lambda p: "{" + p + "}")
templates = st.lists(st.one_of(placeholder, st.text(string.ascii_letters + " .,!#\n", min_size=1, max_size=15)),
                     min_size=1, max_size=6).map("".join)
analyzers = st.lists(st.sampled_from(["ruff", "bandit", "radon"]), min_size=1, max_size=3, unique=True)
positions = st.fixed_dictionaries(
    {"x": st.floats(-5000, 5000, allow_nan=False, allow_infinity=False),
     "y": st.floats(-5000, 5000, allow_nan=False, allow_infinity=False)}
)


def _retry() -> dict:
    return {
        "retries": st.integers(0, 10),
        "retry_delay_seconds": st.integers(1, 3600),
        "exponential_backoff": st.booleans(),
        "timeout_seconds": st.integers(1, 86400),
    }


def _with_retry(required: dict, optional: dict | None = None) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(required, optional={**_retry(), **(optional or {})})


action_configs = st.one_of(
    _with_retry(
        {"action": st.just("quality_check")},
        {"mode": st.sampled_from(["fast", "full"]), "analyzers": analyzers, "fail_on_error": st.booleans(),
         "quality_threshold": st.floats(0, 100, allow_nan=False)},
    ),
    _with_retry(
        {"action": st.just("code_review")},
        {"analyzers": analyzers, "min_confidence": st.floats(0, 1, allow_nan=False), "use_model": st.booleans()},
    ),
    _with_retry(
        {"action": st.just("create_issue"), "title_template": templates},
        {"body_template": templates, "labels": st.lists(label_names, max_size=3)},
    ),
    _with_retry({"action": st.just("post_comment"), "template": templates}),
    _with_retry(
        {"action": st.just("label_pr"), "labels": st.lists(label_names, min_size=1, max_size=3)},
        {"remove": st.lists(label_names, max_size=2)},
    ),
    _with_retry(
        {"action": st.just("request_review"), "reviewers": st.lists(label_names, min_size=1, max_size=3)},
        {"team_reviewers": st.lists(label_names, max_size=2), "use_recommendations": st.booleans()},
    ),
    _with_retry(
        {"action": st.just("merge_pr")},
        {"method": st.sampled_from(["merge", "squash", "rebase"]), "required_checks": st.lists(label_names, max_size=3)},
    ),
)

integration_configs = _with_retry(
    {"connection_id": slugs},
    {
        "method": st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
        "endpoint": st.sampled_from(["", "/hooks/ci", "api/v1/ping", "/deploy?env=staging"]),
        "headers": st.dictionaries(st.sampled_from(["X-Token", "Accept", "X-Run"]), label_names, max_size=2),
        "body": st.recursive(
            # strings in a body are templates at run time: literal braces are doubled, as a user writes them
            st.none() | st.booleans() | st.integers(-1000, 1000)
            | short_text.map(lambda s: s.replace("{", "{{").replace("}", "}}")),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=8), inner, max_size=3),
            max_leaves=6,
        ),
        "expected_status": st.lists(st.integers(100, 599), min_size=1, max_size=3),
    },
)

notification_configs = st.one_of(
    _with_retry({"channel": st.just("slack"), "connection_id": slugs, "message": templates}),
    _with_retry(
        {"channel": st.just("email"), "to": st.lists(st.sampled_from(["dev@example.com", "lead@example.org", "a.b@example.net"]), min_size=1, max_size=2),
         "subject": templates, "message": templates},
    ),
    _with_retry(
        {"channel": st.just("dashboard"), "message": templates},
        {"level": st.sampled_from(["info", "warning", "error"])},
    ),
)


@st.composite
def trigger_configs(draw) -> dict:
    event = draw(st.sampled_from(["pr_opened", "pr_updated", "push", "issue_created", "schedule", "webhook", "manual"]))
    config: dict = {"event": event}
    if event == "schedule":
        config["cron"] = draw(st.sampled_from(["0 * * * *", "*/15 * * * *", "0 3 * * 1-5", "30 2 1 * *"]))
    allowed = {
        "pr_opened": ("branches", "paths", "labels"), "pr_updated": ("branches", "paths", "labels"),
        "push": ("branches", "paths"), "issue_created": ("labels",), "webhook": ("branches", "paths", "labels"),
    }.get(event, ())
    for name in allowed:
        if draw(st.booleans()):
            config[name] = draw(st.lists(label_names if name == "labels" else globs, max_size=3))
    return config


CONDITION_EXPRESSIONS = [
    'event.kind == "pr_opened"',
    "has(event.pr_number) && event.pr_number > 0",
    "size(event) >= 0",
    '"bug" in (has(event.labels) ? event.labels : [])',
    "true",
]


@st.composite
def workflows(draw, min_nodes: int = 1, max_nodes: int = 8) -> dict:
    """A valid workflow dict with a trigger plus ``min_nodes..max_nodes`` other nodes."""
    n = draw(st.integers(min_nodes, max_nodes))
    ids = draw(st.lists(node_ids, min_size=n + 1, max_size=n + 1, unique=True))
    trigger_id, others = ids[0], ids[1:]
    kinds = []
    for i in range(n):
        later = n - i - 1
        choices = ["action", "integration", "notification"] + (["condition"] if later >= 2 else [])
        kinds.append(draw(st.sampled_from(choices)))

    def node(nid: str, ntype: str, config: dict) -> dict:
        out = {"id": nid, "type": ntype, "config": config}
        if draw(st.booleans()):
            out["label"] = draw(short_text)
        if draw(st.booleans()):
            out["position"] = draw(positions)
        return out

    nodes = [node(trigger_id, "trigger", draw(trigger_configs()))]
    for nid, kind in zip(others, kinds):
        if kind == "action":
            cfg = draw(action_configs)
        elif kind == "integration":
            cfg = draw(integration_configs)
        elif kind == "notification":
            cfg = draw(notification_configs)
        else:
            expr = draw(st.sampled_from(CONDITION_EXPRESSIONS + [f"has(nodes.{trigger_id}.event)"]))
            cfg = {"expression": expr}
        nodes.append(node(nid, kind, cfg))

    edges: list[dict] = []
    pairs: set[tuple[str, str]] = set()
    has_parent: set[str] = set()

    def add(src: str, dst: str, branch: str | None = None) -> None:
        edge = {"id": f"e{len(edges)}_{src}_{dst}", "source": src, "target": dst}
        if branch:
            edge["branch"] = branch
        if draw(st.booleans()) and draw(st.booleans()):
            edge["label"] = draw(short_text)
        edges.append(edge)
        pairs.add((src, dst))
        has_parent.add(dst)

    all_ids = [trigger_id] + others
    all_kinds = ["trigger"] + kinds
    for i, (nid, kind) in enumerate(zip(all_ids, all_kinds)):
        if kind == "condition":
            targets = draw(st.lists(st.sampled_from(all_ids[i + 1 :]), min_size=2, max_size=2, unique=True))
            add(nid, targets[0], "true")
            add(nid, targets[1], "false")
    for i, nid in enumerate(all_ids[1:], start=1):
        plain_parents = [p for p, k in zip(all_ids[:i], all_kinds[:i]) if k != "condition"]
        if nid not in has_parent:
            add(draw(st.sampled_from(plain_parents)), nid)
        if draw(st.integers(0, 3)) == 0:
            extra = draw(st.sampled_from(plain_parents))
            if (extra, nid) not in pairs:
                add(extra, nid)

    doc = {
        "format_version": "1",
        "id": draw(slugs),
        "name": draw(names),
        "project": draw(slugs),
        "nodes": draw(st.permutations(nodes)),
        "edges": draw(st.permutations(edges)),
    }
    if draw(st.booleans()):
        doc["description"] = draw(short_text)
    if draw(st.booleans()):
        doc["version"] = draw(st.integers(1, 500))
    if draw(st.booleans()):
        doc["enabled"] = draw(st.booleans())
    return doc


def linear_workflow(project: str, workflow_id: str, n_tasks: int = 5) -> dict:
    """A trigger followed by a chain of dashboard notifications (benchmarks, simple fixtures)."""
    nodes = [{"id": "start", "type": "trigger", "config": {"event": "manual"}}]
    edges = []
    prev = "start"
    for i in range(1, n_tasks):
        nid = f"step_{i}"
        nodes.append({"id": nid, "type": "notification", "config": {"channel": "dashboard", "message": f"step {i}"}})
        edges.append({"id": f"e{i}", "source": prev, "target": nid})
        prev = nid
    return {"id": workflow_id, "name": workflow_id, "project": project, "nodes": nodes, "edges": edges}


def draw_valid_workflows(n: int, project: str = "gen", batch: int = 10) -> list[dict]:
    """``n`` workflows from :func:`workflows`, with unique ids ``wf000``... in ``project``.

    Drawn ``batch`` per hypothesis example (per-example engine overhead dominates
    otherwise); derandomized so a failure is reproducible.
    """
    docs: list[dict] = []

    @settings(max_examples=-(-n // batch), database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), deadline=None)
    @given(st.lists(workflows(), min_size=batch, max_size=batch))
    def collect(batch_docs: list[dict]) -> None:
        docs.extend(batch_docs)

    collect()
    if len(docs) < n:
        raise AssertionError(f"hypothesis produced {len(docs)} of {n} workflows")
    return [dict(doc, id=f"wf{i:03d}", project=project) for i, doc in enumerate(docs[:n])]
