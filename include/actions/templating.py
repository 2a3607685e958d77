"""Fill ``{placeholder}`` templates (comments, issue titles, messages) from a run's values.

Plain :meth:`str.format` field names only — no attribute access, indexing or
conversions — so a template can never reach into Python objects.  An unknown
placeholder is an error naming it and the field, rather than a comment that
says ``{isues_count}`` to a reviewer.
"""

from __future__ import annotations

import string
from typing import Any

from include.actions.context import ActionFailed, RunContext

_FORMATTER = string.Formatter()


def template_values(ctx: RunContext) -> dict[str, Any]:
    """Values for placeholders: event fields, run identity, then upstream outputs (later nodes win).

    The names a template may use are :data:`include.workflows.nodes.TEMPLATE_PLACEHOLDERS`
    (validation refuses any other); every one of them has a value here, so any template
    that passed validation renders.
    """
    event = ctx.event or {}
    values: dict[str, Any] = {
        "repository": event.get("repository", ""),
        "pr_number": event.get("pr_number", ""),
        "issue_number": event.get("issue_number", ""),
        "ref": event.get("ref", ""),
        "branch": str(event.get("ref") or "").removeprefix("refs/heads/"),
        "event_type": event.get("kind", ""),
        "sha": event.get("sha", ""),
        "author": event.get("author", ""),
        "title": event.get("title", ""),
        "project": ctx.project,
        "workflow_id": ctx.workflow_id,
        "workflow_name": ctx.workflow_id,
        "dag_id": ctx.dag_id,
        "run_id": ctx.run_id,
        # Defaults so a template also renders when no analysis ran upstream.
        "issues_count": 0,
        "errors_count": 0,
        "critical_count": 0,
        "high_count": 0,
        "hidden_count": 0,
        "quality_score": "n/a",
        "passed": "n/a",
        "session_id": "",
        "summary": "",
    }
    for outputs in (ctx.upstream or {}).values():
        for key, value in (outputs or {}).items():
            if isinstance(value, (str, int, float, bool)) or value is None:
                values[key] = value
            elif key == "by_severity" and isinstance(value, dict):
                values["critical_count"] = value.get("critical", 0)
                values["high_count"] = value.get("high", 0)
    return values


def render(node_id: str, field: str, template: str, ctx: RunContext) -> str:
    """Render ``template`` for ``node_id``'s ``field``; unknown placeholders raise :class:`ActionFailed`."""
    values = template_values(ctx)
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise ActionFailed(node_id, f"config.{field}: malformed template ({exc})") from None
    out = []
    for literal, name, spec, conversion in parsed:
        out.append(literal)
        if name is None:
            continue
        if not name.isidentifier() or conversion:
            raise ActionFailed(node_id, f"config.{field}: placeholder {{{name}}} must be a plain name")
        if name not in values:
            raise ActionFailed(
                node_id,
                f"config.{field}: unknown placeholder {{{name}}}; available: {', '.join(sorted(values))}",
            )
        value = values[name]
        try:
            out.append(format(value, spec or ""))
        except (TypeError, ValueError):
            out.append(str(value))
    return "".join(out)


def render_tree(node_id: str, field: str, value: Any, ctx: RunContext) -> Any:
    """``render`` applied to every string inside a JSON-like value (headers, bodies), naming each field by its path."""
    if isinstance(value, str):
        return render(node_id, field, value, ctx)
    if isinstance(value, dict):
        return {k: render_tree(node_id, f"{field}.{k}", v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [render_tree(node_id, f"{field}[{i}]", v, ctx) for i, v in enumerate(value)]
    return value
