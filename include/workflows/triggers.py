"""The trigger gate: turn a run's ``conf`` into the event, and decide whether the run proceeds.

Runs start three ways: the scheduler (schedule triggers, no conf), a person
(Airflow UI or the platform API, optional conf) or the webhook endpoint (conf
``{"event": <CodeHostEvent>}``).  The first task of every compiled DAG calls
:func:`event_for_run` and :func:`trigger_matches`; when the filters do not
match, the run stops there and every other task shows as skipped.

Filter semantics follow GitHub Actions: ``branches`` match a pull request's
base branch or the pushed branch; ``paths`` match changed files (when the code
host does not list them, the filter cannot exclude the run); ``labels`` pass
when any listed label is present.  Globs use ``fnmatch`` (case-sensitive).
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel

from include.workflows.nodes import TriggerConfig


class EventError(ValueError):
    """The run's conf does not carry a usable event for this trigger (message says what to send)."""


def event_for_run(trigger: TriggerConfig, conf_event: Any) -> dict[str, Any]:
    """The normalised event of a run (a ``CodeHostEvent`` as a dict).

    Scheduled and manual runs may come without an event; code-host triggers
    need one.  A missing ``kind`` defaults to the trigger's event, so callers
    can send just ``{"repository": ..., "pr_number": ...}``.
    """
    from include.codehost.events import CodeHostEvent  # runtime-only: keeps DAG parsing light

    if conf_event in (None, {}):
        if trigger.event in ("schedule", "manual"):
            return {"kind": trigger.event}
        raise EventError(
            f"this workflow starts on {trigger.event!r} events; start it with conf "
            '{"event": {"kind": "%s", "repository": "owner/name", ...}}' % trigger.event
        )
    if not isinstance(conf_event, dict):
        raise EventError(f"conf.event must be an object, got {type(conf_event).__name__}")
    data = {"kind": trigger.event, **conf_event}
    try:
        event = CodeHostEvent.model_validate(data)
    except ValueError as exc:
        raise EventError(f"conf.event is not a valid event: {exc}") from None
    return event.model_dump(mode="json", exclude_none=True)


def event_branch(event: dict[str, Any]) -> str | None:
    """The branch that branch filters look at: a PR's base branch, otherwise the event's ref."""
    if event.get("kind") in ("pr_opened", "pr_updated"):
        return event.get("base_ref")
    ref = event.get("ref")
    return ref.removeprefix("refs/heads/") if isinstance(ref, str) else None


#: Trigger events a code-host delivery never starts: a person or the scheduler starts those workflows.
NOT_STARTED_BY_DELIVERIES = frozenset({"manual", "schedule"})


def trigger_matches(
    trigger: TriggerConfig | Mapping[str, Any], event: Mapping[str, Any] | BaseModel, *, delivery: bool = False
) -> tuple[bool, str]:
    """(matches, reason when it does not) for a trigger and a normalised event: the one trigger matcher.

    ``trigger`` is a :class:`TriggerConfig` or a stored trigger node's config (validated here; an
    invalid one matches nothing), ``event`` a normalised event as a dict or a ``CodeHostEvent``.
    The DAG's first task asks about its own run (``delivery=False``); the webhook dispatcher asks
    whether a code-host delivery starts a workflow (``delivery=True``), which code-host triggers and
    the catch-all ``webhook`` trigger do, ``manual`` and ``schedule`` ones never.  The filters are the
    same for both, so the dispatcher and the DAG never disagree.
    """
    name = trigger.event if isinstance(trigger, TriggerConfig) else trigger.get("event")
    if delivery and name in NOT_STARTED_BY_DELIVERIES:
        return False, f"{name!r} workflows are not started by code-host events"
    if not isinstance(trigger, TriggerConfig):
        try:
            trigger = TriggerConfig.model_validate(trigger)
        except ValueError as exc:
            return False, f"stored trigger is invalid: {exc}"
    if isinstance(event, BaseModel):
        event = event.model_dump(mode="json", exclude_none=True)
    kind = event.get("kind")
    if trigger.event not in ("webhook", "manual") and kind != trigger.event:
        return False, f"event {kind!r} does not start a {trigger.event!r} workflow"
    if trigger.branches:
        branch = event_branch(event)
        if not branch or not any(fnmatchcase(branch, p) for p in trigger.branches):
            return False, f"branch {branch!r} matches none of {trigger.branches}"
    files = event.get("files")
    if trigger.paths and files is not None and not any(fnmatchcase(f, p) for f in files for p in trigger.paths):
        return False, f"no changed file matches {trigger.paths}"
    if trigger.labels and not set(trigger.labels) & set(event.get("labels") or []):
        return False, f"none of the labels {trigger.labels} is present"
    return True, ""
