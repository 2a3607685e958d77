"""Which state of a task instance or DAG run is its current one: decided by what happened, not by id.

Why not the highest id: ids say when the relay *persisted* an event, not when
Airflow recorded the state.  An event re-claimed from a dead relay, a
listener's buffer sent after an outage or a reconciler poll can all be
persisted after a newer state of the same task, so "highest id wins" moves a
task backwards (a late ``running`` over ``success``).

The rule, the one definition every aggregation uses (the sidecar's run state
route, and the page, which reads :func:`rule_table` from ``/api/ordering``):

1. a higher try wins (a retry or a clear starts a new try);
2. within a try, a terminal state wins over one the task instance leaves again
   (:data:`TERMINAL_STATES`);
3. then the later ``occurred_at`` (Airflow's own time of the state where it
   has one) -- a deferred task goes back to ``scheduled`` within its try, so
   the lifecycle alone cannot order the states before the terminal one;
4. then the lifecycle position (:data:`LIFECYCLE`), for states recorded at the
   same instant; then the id, so the answer never depends on arrival order.

DAG-run events carry no try (``try_number`` 0): the same rule without step 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

#: Airflow's task-instance (and DAG-run) states in the order a try moves through them.
LIFECYCLE: tuple[str, ...] = (
    "none",
    "scheduled",
    "queued",
    "running",
    "awaiting_input",
    "deferred",
    "up_for_reschedule",
    "restarting",
    "up_for_retry",
    "upstream_failed",
    "skipped",
    "removed",
    "success",
    "failed",
)
#: States a try does not leave again; they win over any other state of the same try.
TERMINAL_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
_RANK = {state: position for position, state in enumerate(LIFECYCLE)}


def _epoch(value: Any) -> float:
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return 0.0
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float):
        return float(value)
    return 0.0


def _get(event: Any, name: str) -> Any:
    return event.get(name) if isinstance(event, Mapping) else getattr(event, name, None)


def precedence(event: Any) -> tuple:
    """Sort key of one state event (a wire dict or a :class:`StateEvent`): the greatest is the current state."""
    state = str(_get(event, "state") or "none")
    return (
        int(_get(event, "try_number") or 0),
        state in TERMINAL_STATES,
        _epoch(_get(event, "occurred_at")),
        _RANK.get(state, -1),
        int(_get(event, "id") or 0),
    )


def subject(event: Any) -> tuple:
    """What an event is the state of: one DAG run, or one task instance of it (all tries)."""
    if _get(event, "event_type") == "dag_run":
        return ("dag_run", _get(event, "dag_id"), _get(event, "run_id"))
    return ("task_instance", _get(event, "dag_id"), _get(event, "run_id"), _get(event, "task_id"),
            int(_get(event, "map_index") if _get(event, "map_index") is not None else -1))  # fmt: skip


def current_states(events: Iterable[Any]) -> dict[tuple, Any]:
    """The current event of every subject among ``events`` (notifications are no state and are left out)."""
    current: dict[tuple, Any] = {}
    for event in events:
        if _get(event, "event_type") not in ("task_instance", "dag_run"):
            continue
        key = subject(event)
        held = current.get(key)
        if held is None or precedence(event) > precedence(held):
            current[key] = event
    return current


def rule_table() -> dict[str, Any]:
    """The rule as data, for a client that must apply the same one (the page): served at ``/api/ordering``."""
    return {
        "key": ["try_number", "terminal", "occurred_at", "lifecycle", "id"],
        "lifecycle": list(LIFECYCLE),
        "terminal": sorted(TERMINAL_STATES),
        "subject": {"dag_run": ["dag_id", "run_id"], "task_instance": ["dag_id", "run_id", "task_id", "map_index"]},
    }
