"""Lean fan-out of state events to the clients in a project room.

Why not python-socketio's ``AsyncServer.emit(room=...)``: it encodes the packet
once, but then creates one asyncio task per recipient, and each task goes
through the engine.io server's sid lookup, a ping-timeout check, a logging
call and an awaited ``Queue.put`` -- per recipient, per event, on the same
core that writes the frames, so the cost grows with the size of the room.
This module keeps its own index ``project -> {sid: Client}`` and, per event:

* builds the Socket.IO packet, its engine.io frame and the finished websocket
  frame bytes **once** (the engine.io ``Packet`` caches its encoded text, so
  every writer sends the same string);
* writes those bytes straight to each recipient's transport when its engine.io
  writer is idle, or else puts the one frame object into its send queue with
  ``put_nowait`` -- no task per recipient, no awaits, so a whole room is served
  in one synchronous step that nothing can interleave with.

What is left per recipient is the transport write (or the writer wake-up for a
queued frame); bench/bench_dashboard.py measures both paths against the
library's (``AUTOPR_DASHBOARD_FANOUT=library``).

Replay correctness lives here too: while a client's replay from the database
runs, live events for that project are *held* for it, then flushed if the
replay did not already carry them -- so a joining client sees history, then
live events, with no gap and no duplicate.  What a client has is tracked
exactly, never as a high-water mark: per client and project, the *replay
boundary* (every event of the project up to it came from the database), and
beyond it each live event, which goes to every member of the room at the one
moment it passes through :meth:`Fanout.deliver`.  A process-wide window of
ids already fanned out makes that moment unique, so a re-publish (a relay
that crashed between publish and ack) or the sweep finding an event again
sends nothing twice, while an id *lower* than one already sent -- it arrived
late from another instance -- still reaches everyone.

:class:`Sequencer` sits in front of the fan-out and hands it events in id
order although they arrive out of order (this instance's relay, other
instances over Redis pub/sub, the database sweep): each client then receives
a project's events in id order, so the highest id it holds is a safe
``last_event_id`` to resume from.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from engineio import packet as eio_packet
from socketio import packet as sio_packet

from dashboard_server import metrics
from dashboard_server.metrics import FRAME_PATHS

log = logging.getLogger(__name__)

STATE_EVENT = "event"  # name of the Socket.IO event carrying one state event
NOTIFICATION_EVENT = "notification"
MAX_QUEUED_FRAMES = 20_000  # a client this far behind is disconnected; it reconnects and replays


def websocket_text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented RFC 6455 text frame (server to client), built once per event."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + payload


def encode_frame(event: str, data: object) -> eio_packet.Packet:
    """One engine.io MESSAGE packet carrying a Socket.IO EVENT; encoded once, shared by all writers.

    ``frame.ws`` holds the finished websocket frame bytes for the direct path.
    """
    text = str(sio_packet.EVENT) + json.dumps([event, data], separators=(",", ":"), default=str)
    frame = eio_packet.Packet(eio_packet.MESSAGE, data=text)
    frame.ws = websocket_text_frame(frame.encode().encode())  # encode() fills encode_cache too
    return frame


def direct_writer(environ: dict):
    """The uvicorn websocket protocol behind a Socket.IO connection, if frames may be written to it directly.

    Only for clients connected over the websocket transport (not polling, which
    may upgrade later) served by uvicorn's websockets-sansio protocol, whose
    outgoing side keeps no per-message state: a complete text frame written to
    its transport between two of its own writes is indistinguishable from one
    it wrote itself.
    """
    scope = environ.get("asgi.scope") or {}
    proto = getattr(environ.get("asgi.send"), "__self__", None)
    if scope.get("type") != "websocket" or proto is None:
        return None
    if not all(hasattr(proto, name) for name in ("transport", "writable", "close_sent", "conn")):
        return None
    if getattr(proto.conn, "extensions", None):  # permessage-deflate negotiated: frames must go through it
        return None
    return proto


@dataclass(eq=False)
class Client:
    """One authenticated Socket.IO connection."""

    sid: str
    username: str
    ip: str
    expires_at: float
    last_event_id: int | None
    socket: object  # engine.io AsyncSocket; frames go into its queue
    direct: object | None = None  # uvicorn websocket protocol, see direct_writer()
    projects: set[str] = field(default_factory=set)
    # project -> live frames held while that project's replay runs
    holding: dict[str, list[tuple[int, list[eio_packet.Packet]]]] = field(default_factory=dict)
    # project -> replay boundary: the client has every event of the project up to this id from
    # the database (the replay read all of them: ids commit in id order, include/events/store.py).
    # A live event at or below it was in the replay.  Live sends never move it: an event below
    # one already sent may still be on its way from another instance.
    replayed: dict[str, int] = field(default_factory=dict)
    expiry: asyncio.TimerHandle | None = None

    def put(self, frames: list[eio_packet.Packet]) -> bool:
        """Hand frames to this client, in order; False if it is gone or too far behind.

        Fast path: when the engine.io writer of this socket is idle (waiting on
        an empty queue) nothing of ours is in flight, so the prebuilt websocket
        frame bytes go straight to the TCP transport: one ``write`` per
        recipient, no task wake-up, no per-recipient framing.  Otherwise (a
        backlog, flow control, polling transport) the frames queue behind what
        is pending, which keeps the order.
        """
        sock = self.socket
        if sock.closed or sock.closing:
            return False
        queue = sock.queue
        proto = self.direct
        if (
            proto is not None
            and not queue._unfinished_tasks  # nothing queued or being written by the writer task
            and queue._getters  # the writer is parked in queue.get()
            and proto.writable.is_set()
            and not proto.close_sent
        ):
            transport = proto.transport
            if not transport.is_closing():
                for frame in frames:
                    transport.write(frame.ws)
                FRAME_PATHS["direct"] += len(frames)
                return True
        if queue.qsize() > MAX_QUEUED_FRAMES:
            return False
        for frame in frames:
            queue.put_nowait(frame)
        FRAME_PATHS["queued"] += len(frames)
        return True


class RecentIds:
    """A bounded set of event ids already fanned out by this process.

    Ids leave in arrival order once the window is full; an id at or below the
    highest one that left can no longer be told apart from a copy, so it
    counts as seen (by then every client that needs it replays it from the
    database).
    """

    def __init__(self, size: int = 200_000):
        self._ids: set[int] = set()
        self._order: deque[int] = deque()
        self._size = size
        self.forgotten = 0  # highest id that left the window

    def add(self, event_id: int) -> bool:
        """Remember ``event_id``; False if it was already there (or is too old to tell)."""
        if event_id in self._ids or event_id <= self.forgotten:
            return False
        self._ids.add(event_id)
        self._order.append(event_id)
        if len(self._order) > self._size:
            old = self._order.popleft()
            self._ids.discard(old)
            self.forgotten = max(self.forgotten, old)
        return True

    def __contains__(self, event_id: int) -> bool:
        return event_id in self._ids or event_id <= self.forgotten


def notification_for(wire: dict) -> dict | None:
    """The warning a failed task produces (or a notification event passed through)."""
    if wire.get("event_type") == "notification":
        payload = wire.get("payload") or {}
        return {
            "level": payload.get("level", "info"),
            "message": payload.get("message") or f"{wire.get('dag_id')}: {wire.get('state')}",
            "event_id": wire["id"],
            "project": wire["project"],
            "dag_id": wire.get("dag_id"),
            "run_id": wire.get("run_id"),
            "task_id": wire.get("task_id"),
            "occurred_at": wire.get("occurred_at"),
        }
    if wire.get("event_type") == "task_instance" and wire.get("state") == "failed":
        return {
            "level": "warning",
            "message": f"Task {wire.get('task_id')} failed in {wire.get('dag_id')} "
            f"run {wire.get('run_id')} (try {wire.get('try_number')})",
            "event_id": wire["id"],
            "project": wire["project"],
            "dag_id": wire.get("dag_id"),
            "run_id": wire.get("run_id"),
            "task_id": wire.get("task_id"),
            "occurred_at": wire.get("occurred_at"),
        }
    return None


def _occurred_epoch(wire: dict) -> float | None:
    value = wire.get("occurred_at")
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


class Fanout:
    """Who is in which project room on this instance, and how events reach them."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.rooms: dict[str, dict[str, Client]] = {}
        self.recent = RecentIds()
        self.on_slow_client = None  # callable(sid): set by the server to disconnect laggards
        # settings.dashboard_fanout == "library": hand each event to python-socketio's
        # AsyncServer.emit(room=...) instead (no replay holding, no replay boundary): only to
        # benchmark the lean path against the library's default one.
        self.library_emit = None

    # -- membership -------------------------------------------------------
    def add(self, client: Client) -> None:
        self.clients[client.sid] = client
        metrics.CONNECTIONS.set(len(self.clients))

    def remove(self, sid: str) -> Client | None:
        client = self.clients.pop(sid, None)
        if client is not None:
            for project in list(client.projects):
                self.leave(client, project)
            if client.expiry is not None:
                client.expiry.cancel()
        metrics.CONNECTIONS.set(len(self.clients))
        return client

    def enter(self, client: Client, project: str, *, hold: bool) -> None:
        """Put the client in the project's room; with ``hold`` its live events wait for the replay."""
        client.projects.add(project)
        if hold:
            client.holding[project] = []
        self.rooms.setdefault(project, {})[client.sid] = client

    def leave(self, client: Client, project: str) -> None:
        client.projects.discard(project)
        client.holding.pop(project, None)
        client.replayed.pop(project, None)
        room = self.rooms.get(project)
        if room is not None:
            room.pop(client.sid, None)
            if not room:
                del self.rooms[project]

    def broadcast(self, project: str, event: str, data: object) -> int:
        """One message (not a state event: no ids, no holding) to every client of a project here.

        Encoded once and written like a live event, so a presence message to a
        large room costs one encode plus one write per recipient, not a task each.
        """
        room = self.rooms.get(project)
        if not room:
            return 0
        frames = [encode_frame(event, data)]
        sent = 0
        slow: list[str] = []
        for client in room.values():
            if client.put(frames):
                sent += 1
            elif not client.socket.closed:
                slow.append(client.sid)
        for sid in slow:
            metrics.DROPPED_SLOW.inc()
            if self.on_slow_client is not None:
                self.on_slow_client(sid)
        return sent

    # -- delivery -----------------------------------------------------------
    def deliver(self, wire: dict, source: str) -> int:
        """Send one persisted event to every client of its project here; returns recipients.

        Synchronous on purpose: no await means no other coroutine (a join, a
        replay flush) can observe the room half-served -- so "this id passed
        through here" is the same as "every member then present was sent it".
        Ids may arrive in any order; an id is only skipped for a client whose
        replay already carried it.
        """
        event_id = int(wire["id"])
        if not self.recent.add(event_id):
            return 0
        metrics.EVENTS_IN.labels(source).inc()
        project = wire["project"]
        room = self.rooms.get(project)
        occurred = _occurred_epoch(wire)
        if not room:
            return 0
        if self.library_emit is not None:
            asyncio.ensure_future(self.library_emit(STATE_EVENT, wire, room=f"project:{project}"))
            if occurred is not None:
                metrics.DELIVERY_LATENCY.observe(max(0.0, time.time() - occurred))
            return len(room)
        frames = [encode_frame(STATE_EVENT, wire)]
        note = notification_for(wire)
        if note is not None:
            frames.append(encode_frame(NOTIFICATION_EVENT, note))
        sent = 0
        slow: list[str] = []
        for client in room.values():
            held = client.holding.get(project)
            if held is not None:
                held.append((event_id, frames))
                continue
            if event_id <= client.replayed.get(project, 0):
                continue  # the replay read it from the database
            if client.put(frames):
                sent += 1
            elif not client.socket.closed:
                slow.append(client.sid)
        metrics.EVENTS_OUT.labels("live").inc(sent)
        if occurred is not None:
            metrics.DELIVERY_LATENCY.observe(max(0.0, time.time() - occurred))
        for sid in slow:
            metrics.DROPPED_SLOW.inc()
            if self.on_slow_client is not None:
                self.on_slow_client(sid)
        return sent

    def send_replayed(self, client: Client, rows: list[dict]) -> None:
        frames = [encode_frame(STATE_EVENT, row) for row in rows]
        if frames and not client.put(frames) and self.on_slow_client is not None:
            self.on_slow_client(client.sid)
        metrics.EVENTS_OUT.labels("replay").inc(len(frames))

    def finish_replay(self, client: Client, project: str, floor: int) -> int:
        """Flush live events held during the replay that it did not carry (in id order).

        ``floor`` is the replay boundary: the client's last_event_id or the
        last replayed id, read after every lower id had committed, so held
        events at or below it were in the replay.
        """
        held = client.holding.pop(project, None) or []
        client.replayed[project] = floor
        flushed = 0
        for event_id, frames in sorted(held, key=lambda item: item[0]):
            if event_id <= floor:
                continue
            client.put(frames)
            flushed += 1
        metrics.EVENTS_OUT.labels("held").inc(flushed)
        return flushed


ORDER_MAX_WAIT = 3.0  # seconds an event may wait for a lower id before it goes out anyway


class Sequencer:
    """Hands events to the fan-out in id order, whatever order they arrive in.

    Several relays take turns persisting (each batch under the writer lock,
    include/events/relay.py), and each fans its batch out locally at once but
    reaches the other instances over pub/sub a moment later -- often after
    another instance has already persisted and fanned out the next batch.
    Were those events delivered as they come, a client could hold id 11
    without id 10, and on reconnecting ask to resume after 11 and never get
    10.  So events above the next expected id wait here until the ids below
    them arrive, normally within milliseconds over pub/sub.

    Ids are allocated and committed in one global order, so what the database
    sweep reads settles everything up to the highest id it saw: an id below
    it that is not in the table never will be (a rolled-back insert).  The
    sweep passes that knowledge to :meth:`settle`, together with the rows of
    events this instance never received (pub/sub lost them, or the instance
    that persisted them died before forwarding).  A wait longer than
    ``max_wait`` -- the database is unreachable, so nothing settles -- is
    given up: the waiting events go out in id order, and the missing ones
    still go out whenever they arrive.

    Before :meth:`start` (the highest committed id is not known yet) events
    pass straight through.
    """

    def __init__(self, deliver, *, max_wait: float = ORDER_MAX_WAIT):
        self._deliver = deliver  # deliver(wire, source)
        self.max_wait = max_wait
        self.next_id: int | None = None  # lowest id not yet handed on or known not to exist
        self.waiting: dict[int, tuple[dict, str]] = {}
        self._waiting_since: float | None = None
        self.stats = {"waited": 0, "late": 0, "gave_up": 0}

    def start(self, last_id: int) -> None:
        """Begin ordering after ``last_id``, the highest id committed before this instance looked."""
        if self.next_id is None:
            self.next_id = int(last_id) + 1

    def offer(self, wire: dict, source: str) -> None:
        """One persisted event from any source; delivered now or once the ids below it are in."""
        event_id = int(wire["id"])
        expected = self.next_id
        if expected is None or event_id < expected:
            if expected is not None:
                self.stats["late"] += 1  # a copy (dropped by the fan-out) or an id given up on
            self._deliver(wire, source)
            return
        if event_id > expected:
            if event_id not in self.waiting:
                self.waiting[event_id] = (wire, source)
                self.stats["waited"] += 1
                if self._waiting_since is None:
                    self._waiting_since = time.monotonic()
            return
        self._deliver(wire, source)
        self.next_id = event_id + 1
        if self.waiting:
            self._drain()

    def _drain(self) -> None:
        waiting = self.waiting
        before = self.next_id
        while self.next_id in waiting:
            wire, source = waiting.pop(self.next_id)
            self._deliver(wire, source)
            self.next_id += 1
        if not waiting:
            self._waiting_since = None
        elif self.next_id != before:
            self._waiting_since = time.monotonic()  # a new, later gap: its own wait starts now

    def settle(self, upto: int, rows: list[dict]) -> None:
        """The sweep read every id up to ``upto``; ``rows`` are the events among them not received yet."""
        if self.next_id is None:
            self.start(upto)
            for wire in rows:
                self._deliver(wire, "sweep")
            return
        before = self.next_id
        found = {int(wire["id"]): (wire, "sweep") for wire in rows}
        for event_id in [i for i in self.waiting if i <= upto]:
            found[event_id] = self.waiting.pop(event_id)
        for event_id in sorted(found):
            wire, source = found[event_id]
            self._deliver(wire, source)
        if upto >= self.next_id:
            self.next_id = upto + 1
        self._drain()
        if self.waiting and (self.next_id != before or self._waiting_since is None):
            self._waiting_since = time.monotonic()

    def expire(self, now: float | None = None) -> int:
        """Give up waiting for ids that have not come in ``max_wait``; returns how many events went out."""
        if not self.waiting or self._waiting_since is None:
            return 0
        now = time.monotonic() if now is None else now
        if now - self._waiting_since < self.max_wait:
            return 0
        ids = sorted(self.waiting)
        log.warning(
            "ids %d..%d did not arrive in %.1f s; delivering %d later event(s) without them",
            self.next_id, ids[0] - 1, self.max_wait, len(ids),
        )  # fmt: skip
        for event_id in ids:
            wire, source = self.waiting.pop(event_id)
            self._deliver(wire, source)
        self.next_id = ids[-1] + 1
        self._waiting_since = None
        self.stats["gave_up"] += len(ids)
        return len(ids)

    def status(self) -> dict:
        return {"next_id": self.next_id, "waiting": len(self.waiting), **self.stats}
