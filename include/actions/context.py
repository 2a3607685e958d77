"""What an action knows about the run it is part of, and how it reports failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunContext:
    """The workflow run a node executes in.

    ``event`` is the run's ``conf["event"]`` (a :class:`include.codehost.events.CodeHostEvent`
    as a dict; empty for scheduled and manual runs), ``upstream`` maps each
    upstream node id to that node's outputs.  ``capture`` is set in a dry run
    (:mod:`include.dag_factory.dry_run`): a :class:`include.codehost.capture.CapturedWrites`
    that the code-host actions record their writes into instead of sending them.
    """

    project: str
    workflow_id: str
    workflow_version: int
    dag_id: str
    run_id: str
    event: dict[str, Any] = field(default_factory=dict)
    upstream: dict[str, dict[str, Any]] = field(default_factory=dict)
    capture: Any = None


class ActionFailed(RuntimeError):
    """A node could not do its job; the message names the node and the reason.

    ``retryable`` tells the DAG task whether trying again can help (a network
    error can; a refused merge or a failed quality gate cannot).
    """

    def __init__(self, node_id: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"node {node_id!r}: {message}")
        self.node_id = node_id
        self.reason = message
        self.retryable = retryable
