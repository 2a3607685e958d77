"""What each workflow node does when its Airflow task runs.

One public entry point: :func:`run_node`.  The DAG builder (``include.workflows``)
creates one task per node and calls ``run_node(node, ctx)`` inside it; this
package picks the implementation from the node type and its config's subtype,
runs it and returns JSON-serialisable outputs (XCom) for downstream nodes.
Node configs arrive already validated against their pydantic schemas; the
checks here are about the run (is there a PR to comment on? did the required
checks pass?).  Real failures raise :class:`ActionFailed` naming the node.

Condition nodes are evaluated by the DAG builder and never reach this module.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from include.actions.context import ActionFailed, RunContext

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any], RunContext], dict[str, Any]]

# The discriminator inside an action's config (include.workflows.nodes.NODE_TYPES); notifications
# dispatch on ``channel`` inside include.actions.notification.
_SUBTYPE_KEY = "action"


def _handlers() -> dict[tuple[str, str | None], Handler]:
    # Imported lazily: a DAG file that only builds tasks must not pay for PyGithub, analysers, ...
    from include.actions import codehost, integration, notification, quality

    return {
        ("action", "quality_check"): quality.quality_check,
        ("action", "code_review"): quality.code_review,
        ("action", "post_comment"): codehost.post_comment,
        ("action", "label_pr"): codehost.label_pr,
        ("action", "request_review"): codehost.request_review,
        ("action", "create_issue"): codehost.create_issue,
        ("action", "merge_pr"): codehost.merge_pr,
        ("action", "publish_review"): codehost.publish_review,
        ("integration", None): integration.integration,
        ("notification", None): notification.notification,
    }


def _subtype(config: dict[str, Any]) -> str | None:
    value = config.get(_SUBTYPE_KEY)
    return value if isinstance(value, str) else None


def run_node(node: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Execute one workflow node for the run described by ``ctx``; return its outputs.

    ``node`` is ``{"id", "type", "label", "config"}`` as in the compiled spec.
    """
    node_id = str(node.get("id") or "?")
    node_type = node.get("type")
    config = dict(node.get("config") or {})
    handlers = _handlers()
    subtype = _subtype(config) if node_type == "action" else None
    handler = handlers.get((node_type, subtype))
    if handler is None:
        if node_type == "trigger":
            return {"event": ctx.event}  # the trigger's output is the event that started the run
        if node_type == "condition":
            raise ActionFailed(node_id, "condition nodes are evaluated by the DAG builder, not run as actions")
        known = sorted(f"{t}:{s}" if s else t for t, s in handlers)
        raise ActionFailed(
            node_id, f"no implementation for node type {node_type!r} subtype {subtype!r}; known: {known}"
        )
    log.info(
        "running node %s (%s%s) of %s run %s",
        node_id,
        node_type,
        f":{subtype}" if subtype else "",
        ctx.dag_id,
        ctx.run_id,
    )
    outputs = handler(node_id, config, ctx)
    json.dumps(outputs)  # outputs travel as XCom: fail here, naming the node, rather than in the serialiser
    return outputs


__all__ = ["ActionFailed", "RunContext", "run_node"]
