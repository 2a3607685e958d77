"""The listener opens its outbox connection when a task process starts, not in the task's first hook call.

Airflow's task runner calls ``on_starting`` in the task process before it parses
the DAG; the first hand-off of every task must find the connection open.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
import redis

from include.events import listener
from include.events.outbox import embedded_outbox_path, get_outbox
from include.events.schema import StateEvent

pytestmark = pytest.mark.timeout(60)


def _event() -> StateEvent:
    return StateEvent(event_type="task_instance", project="alpha", dag_id="dag_s", run_id="run_1",
                      task_id="t", try_number=1, state="running", occurred_at=datetime.now(UTC))


def _client_ids(url: str) -> set[int]:
    """Ids of the connections open on this Redis, the probe's own excepted."""
    with redis.Redis.from_url(url) as probe:
        own = probe.client_id()
        return {int(c["id"]) for c in probe.client_list()} - {own}


def test_on_starting_connects_to_redis_so_the_first_hand_off_opens_nothing(event_settings, private_redis):
    # A roomy hand-off timeout: what is checked is that the connection opens early, not how fast on a loaded machine.
    settings = event_settings(redis_url=private_redis.url, events_redis_timeout_ms=2000)
    before = _client_ids(private_redis.url)

    listener.on_starting(component=None)
    started = _client_ids(private_redis.url)
    assert len(started - before) == 1, "on_starting did not open the listener's Redis connection"

    get_outbox().put(_event())
    assert _client_ids(private_redis.url) - started == set(), "the first hand-off opened a connection of its own"
    with redis.Redis.from_url(private_redis.url) as probe:
        assert probe.xlen(settings.events_stream) == 1


def test_on_starting_opens_the_embedded_outbox_before_any_event(event_settings):
    settings = event_settings()
    path = embedded_outbox_path(settings)
    assert not path.exists()

    listener.on_starting(component=None)
    assert path.exists(), "on_starting did not open the embedded outbox"
    with sqlite3.connect(path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "outbox" in tables


def test_on_starting_with_redis_down_never_raises_and_events_are_kept(event_settings, unused_port):
    event_settings(redis_url=f"redis://127.0.0.1:{unused_port}/0")
    listener.on_starting(component=None)  # must not raise into the task runner's start-up

    outbox = get_outbox()
    outbox.put(_event())
    assert outbox.spool.pending(), "with Redis down the event must wait in the local spool"


@pytest.fixture()
def unused_port() -> int:
    from tests.events.conftest import free_port

    return free_port()
