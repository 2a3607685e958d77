"""The one rule that decides which event of a task instance or DAG run is its current state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from include.events import ordering
from include.events.schema import StateEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ti(state: str, seconds: float, try_number: int = 1, event_id: int = 0, task_id: str = "lint") -> dict:
    return {"id": event_id, "event_type": "task_instance", "dag_id": "d", "run_id": "r", "task_id": task_id,
            "map_index": -1, "try_number": try_number, "state": state,
            "occurred_at": (T0 + timedelta(seconds=seconds)).isoformat()}  # fmt: skip


def shown(*events) -> dict[str, str]:
    return {key[3] if key[0] == "task_instance" else "run": e["state"]
            for key, e in ordering.current_states(events).items()}  # fmt: skip


def test_a_late_event_never_moves_a_task_backwards():
    # Ids in arrival order: the re-claimed "running" and a slow poll's "queued" were persisted last.
    assert shown(ti("success", 3, event_id=1), ti("running", 2, event_id=2), ti("queued", 1, event_id=3)) == {
        "lint": "success"
    }


def test_a_terminal_state_wins_within_its_try_even_with_an_earlier_clock():
    # Two hosts' clocks disagree: the worker's "success" is stamped before the scheduler's "running".
    assert shown(ti("running", 5, event_id=1), ti("success", 4, event_id=2)) == {"lint": "success"}


def test_a_new_try_wins_over_the_last_ones_end():
    assert shown(ti("up_for_retry", 3, event_id=1), ti("failed", 4, event_id=2),
                 ti("scheduled", 5, try_number=2, event_id=3)) == {"lint": "scheduled"}  # fmt: skip
    assert shown(ti("running", 9, try_number=2, event_id=1), ti("success", 4, try_number=1, event_id=2)) == {
        "lint": "running"
    }


def test_a_deferred_task_going_round_its_lifecycle_is_ordered_by_time():
    events = [ti("running", 1, event_id=1), ti("deferred", 2, event_id=2), ti("scheduled", 3, event_id=4),
              ti("queued", 4, event_id=3)]  # fmt: skip
    assert shown(*events) == {"lint": "queued"}


def test_the_same_instant_falls_back_to_the_lifecycle_then_the_id():
    assert shown(ti("running", 1, event_id=2), ti("queued", 1, event_id=3)) == {"lint": "running"}
    assert ordering.precedence(ti("running", 1, event_id=5)) > ordering.precedence(ti("running", 1, event_id=4))


def test_dag_runs_tasks_and_notifications_are_kept_apart():
    run = {"event_type": "dag_run", "dag_id": "d", "run_id": "r", "task_id": None, "try_number": 0,
           "state": "success", "occurred_at": T0.isoformat(), "id": 9}  # fmt: skip
    note = {**run, "event_type": "notification", "state": "failed", "id": 10}
    late = {**run, "state": "running", "id": 11}
    assert shown(run, note, late, ti("failed", 1, task_id="other")) == {"run": "success", "other": "failed"}


def test_state_events_and_wire_dicts_order_alike():
    event = StateEvent(event_type="task_instance", project="p", dag_id="d", run_id="r", task_id="lint",
                       try_number=1, state="success", occurred_at=T0)  # fmt: skip
    assert ordering.precedence(event)[:4] == ordering.precedence(ti("success", 0))[:4]


def test_the_table_served_to_the_page_is_the_rule():
    table = ordering.rule_table()
    assert table["lifecycle"] == list(ordering.LIFECYCLE)
    assert set(table["terminal"]) == ordering.TERMINAL_STATES <= set(ordering.LIFECYCLE)
