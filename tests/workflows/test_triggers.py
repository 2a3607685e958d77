"""The trigger gate: events from a run's conf, and the branches/paths/labels filters."""

from __future__ import annotations

import pytest

from include.workflows.nodes import TriggerConfig
from include.workflows.triggers import EventError, event_for_run, trigger_matches


def trig(**kw) -> TriggerConfig:
    return TriggerConfig.model_validate(kw)


def test_scheduled_and_manual_runs_need_no_event():
    assert event_for_run(trig(event="schedule", cron="0 * * * *"), None) == {"kind": "schedule"}
    assert event_for_run(trig(event="manual"), {}) == {"kind": "manual"}


def test_code_host_triggers_need_an_event_and_say_how_to_send_it():
    with pytest.raises(EventError, match='conf {"event"'):
        event_for_run(trig(event="pr_opened"), None)
    with pytest.raises(EventError, match="must be an object"):
        event_for_run(trig(event="pr_opened"), "pr 7")
    with pytest.raises(EventError, match="pr_number"):
        event_for_run(trig(event="pr_opened"), {"repository": "acme/app", "pr_number": -1})
    with pytest.raises(EventError, match="owner/name"):
        event_for_run(trig(event="pr_opened"), {"repository": "app"})


def test_event_kind_defaults_to_the_trigger():
    event = event_for_run(trig(event="pr_opened"), {"repository": "acme/app", "pr_number": 3})
    assert event == {"kind": "pr_opened", "repository": "acme/app", "pr_number": 3, "labels": []}


@pytest.mark.parametrize(
    "trigger,event,expected",
    [
        ({"event": "pr_opened"}, {"kind": "pr_opened"}, True),
        ({"event": "pr_opened"}, {"kind": "push"}, False),
        ({"event": "webhook"}, {"kind": "push"}, True),
        ({"event": "manual"}, {"kind": "pr_updated"}, True),
        ({"event": "pr_opened", "branches": ["main", "release/*"]}, {"kind": "pr_opened", "base_ref": "release/2.1"}, True),
        ({"event": "pr_opened", "branches": ["main"]}, {"kind": "pr_opened", "base_ref": "dev", "ref": "main"}, False),
        ({"event": "push", "branches": ["main"]}, {"kind": "push", "ref": "refs/heads/main"}, True),
        ({"event": "push", "paths": ["src/*.py"]}, {"kind": "push", "files": ["docs/a.md"]}, False),
        ({"event": "push", "paths": ["src/*.py"]}, {"kind": "push", "files": ["docs/a.md", "src/x.py"]}, True),
        ({"event": "pr_opened", "paths": ["src/*.py"]}, {"kind": "pr_opened"}, True),  # files unknown: cannot exclude
        ({"event": "issue_created", "labels": ["bug"]}, {"kind": "issue_created", "labels": ["bug", "ui"]}, True),
        ({"event": "issue_created", "labels": ["bug"]}, {"kind": "issue_created", "labels": ["ui"]}, False),
    ],
)
def test_filters(trigger, event, expected):
    matched, reason = trigger_matches(trig(**trigger), event)
    assert matched is expected
    assert bool(reason) is not expected


def test_one_list_of_event_kinds_is_the_list_of_trigger_events():
    import typing

    from include.codehost.events import EventKind
    from include.workflows.nodes import TRIGGER_FILTERS, TriggerEvent

    assert typing.get_args(TriggerEvent) == tuple(kind.value for kind in EventKind)
    assert set(TRIGGER_FILTERS) == {kind.value for kind in EventKind}
