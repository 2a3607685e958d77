"""The fan-out and the sequencer in one process, with real engine.io sockets (no network).

Several sidecars on one Redis hand each instance events out of id order: a
lower id from another instance's relay arrives over pub/sub after a higher
local one.  These tests pin down what each client is sent then: every id,
once, in id order when the sequencer is in front, and never an id its replay
already carried.
"""

from __future__ import annotations

import json

import engineio
import pytest

from dashboard_server.fanout import Client, Fanout, Sequencer


def wire(event_id: int, project: str = "p") -> dict:
    return {
        "id": event_id,
        "event_type": "task_instance",
        "project": project,
        "dag_id": "d",
        "run_id": "r",
        "task_id": f"t{event_id}",
        "map_index": -1,
        "try_number": 1,
        "state": "success",
        "occurred_at": None,
        "payload": {},
    }


@pytest.fixture
def eio():
    return engineio.AsyncServer(async_mode="asgi")


def client(eio, sid: str = "a") -> Client:
    return Client(
        sid=sid, username=sid, ip="127.0.0.1", expires_at=0.0, last_event_id=None,
        socket=engineio.async_socket.AsyncSocket(eio, sid),
    )  # fmt: skip


def received(c: Client) -> list[int]:
    """Ids of the state events in the client's engine.io send queue, in the order they were queued."""
    ids = []
    while not c.socket.queue.empty():
        name, data = json.loads(c.socket.queue.get_nowait().data[1:])
        if name == "event":
            ids.append(data["id"])
    return ids


def test_a_lower_id_after_a_higher_one_still_reaches_the_client_and_nothing_goes_twice(eio):
    fanout = Fanout()
    a, b = client(eio, "a"), client(eio, "b")
    for c in (a, b):
        fanout.add(c)
        fanout.enter(c, "p", hold=False)
    fanout.deliver(wire(12), "relay")
    fanout.deliver(wire(11), "redis")  # another instance's relay persisted it first; pub/sub was slower
    fanout.deliver(wire(12), "redis")  # copies: the relay re-publishing, the sweep finding it again
    fanout.deliver(wire(11), "sweep")
    assert received(a) == received(b) == [12, 11]


def test_live_events_the_replay_carried_are_skipped_later_ones_are_not(eio):
    fanout = Fanout()
    c = client(eio)
    fanout.add(c)
    fanout.enter(c, "p", hold=True)
    fanout.deliver(wire(5), "relay")  # held while the replay runs
    fanout.deliver(wire(9), "relay")
    fanout.send_replayed(c, [wire(3), wire(5), wire(7)])
    assert fanout.finish_replay(c, "p", 7) == 1
    fanout.deliver(wire(6), "redis")  # committed before the replay read, so it was in it
    fanout.deliver(wire(8), "redis")  # committed after: not in the replay
    assert received(c) == [3, 5, 7, 9, 8]


def test_sequencer_restores_id_order_and_settles_holes_from_the_sweep():
    out: list[int] = []
    seq = Sequencer(lambda w, source: out.append(w["id"]), max_wait=60)
    seq.start(2)
    seq.offer(wire(3), "relay")
    seq.offer(wire(5), "relay")  # 4 is still on its way from another instance
    assert out == [3] and seq.status()["waiting"] == 1
    seq.offer(wire(4), "redis")
    assert out == [3, 4, 5]
    seq.offer(wire(7), "relay")  # 6 was rolled back: never arrives
    seq.offer(wire(10), "relay")  # 8 rolled back too; 9 was lost by pub/sub
    assert out == [3, 4, 5]
    seq.settle(10, [wire(9)])  # the sweep read ids up to 10 and loaded 9
    assert out == [3, 4, 5, 7, 9, 10]
    seq.offer(wire(9), "redis")  # pub/sub after all: a copy, handed on for the fan-out to drop
    assert out[-1] == 9 and seq.next_id == 11


def test_sequencer_gives_up_waiting_but_still_delivers_the_missing_id_when_it_comes():
    out: list[int] = []
    seq = Sequencer(lambda w, source: out.append(w["id"]), max_wait=5)
    seq.start(0)
    seq.offer(wire(2), "relay")
    seq.offer(wire(3), "relay")
    assert seq.expire() == 0 and out == []
    assert seq.expire(now=10**9) == 2 and out == [2, 3]
    seq.offer(wire(1), "redis")
    assert out == [2, 3, 1]


def test_sequencer_in_front_of_the_fanout_sends_every_id_once_in_order(eio):
    fanout = Fanout()
    seq = Sequencer(fanout.deliver, max_wait=60)
    seq.start(0)
    c = client(eio)
    fanout.add(c)
    fanout.enter(c, "p", hold=False)
    for event_id in (2, 1, 4, 3, 3, 6, 5, 1):
        seq.offer(wire(event_id), "redis")
    seq.settle(7, [wire(7)])
    assert received(c) == [1, 2, 3, 4, 5, 6, 7]
