"""Lean fan-out of state events to the clients in a project room.

python-socketio's ``AsyncServer.emit`` to a room already encodes the packet
once, but then creates one asyncio task per recipient, and each task goes
through the engine.io server's sid lookup, a ping-timeout check, a logging
call and an awaited ``Queue.put``.  With 1,000 clients in one room that is
1,000 tasks to create, schedule and tear down per event, on the same core that
writes the frames.  This module keeps its own index ``project -> {sid: Client}``
and, per event:

* builds the Socket.IO packet and its engine.io frame **once** (the engine.io
  ``Packet`` caches its encoded text, so every writer sends the same string);
* puts that one frame object straight into each recipient's engine.io send
  queue with ``put_nowait`` -- no task per recipient, no awaits, so a whole
  room is served in one synchronous step that nothing can interleave with.

Each engine.io socket's own writer task then drains its queue (batching all
pending frames per wake-up) into the websocket.  What is left per recipient is
that writer wake-up plus the websocket frame write in uvicorn; that is what
limits one process (see bench/bench_dashboard.py).

Replay correctness lives here too: while a client's replay from the database
runs, live events for that project are *held* for it, then flushed if the
replay did not already carry them -- so a joining client sees history, then
live events, with no gap and no duplicate.  Per client and project a *floor*
(the highest id it already has) drops later copies, and a process-wide window
of recently delivered ids drops re-publishes (a relay that crashed between
publish and ack sends its batch again).
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

log = logging.getLogger(__name__)

STATE_EVENT = "event"  # name of the Socket.IO event carrying one state event
NOTIFICATION_EVENT = "notification"
MAX_QUEUED_FRAMES = 20_000  # a client this far behind is disconnected; it reconnects and replays
# frames handed over per path (plain ints: a labelled Prometheus counter per recipient costs more
# than the write itself); exported through /healthz and /metrics
FRAME_PATHS = {"direct": 0, "queued": 0}


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
    # project -> highest id the client already has there (its last_event_id, then what the
    # replay sent).  Relays persist and publish in id order (include/events/store.py), so a
    # live event at or below it is a copy: a relay re-publishing after a crash, or an
    # event the replay query already read.
    floors: dict[str, int] = field(default_factory=dict)
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
    """A bounded set of event ids already fanned out by this process."""

    def __init__(self, size: int = 200_000):
        self._ids: set[int] = set()
        self._order: deque[int] = deque()
        self._size = size

    def add(self, event_id: int) -> bool:
        """Remember ``event_id``; False if it was already there."""
        if event_id in self._ids:
            return False
        self._ids.add(event_id)
        self._order.append(event_id)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())
        return True

    def __contains__(self, event_id: int) -> bool:
        return event_id in self._ids


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
        # AsyncServer.emit(room=...) instead (no replay holding, no floors): only to
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
        client.floors.pop(project, None)
        room = self.rooms.get(project)
        if room is not None:
            room.pop(client.sid, None)
            if not room:
                del self.rooms[project]

    def watchers(self, project: str) -> list[str]:
        return sorted({c.username for c in self.rooms.get(project, {}).values()})

    # -- delivery -----------------------------------------------------------
    def deliver(self, wire: dict, source: str) -> int:
        """Send one persisted event to every client of its project here; returns recipients.

        Synchronous on purpose: no await means no other coroutine (a join, a
        replay flush) can observe the room half-served.
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
            floors = client.floors
            if event_id <= floors.get(project, 0):
                continue
            if client.put(frames):
                floors[project] = event_id
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

        ``floor`` is the highest id the client now has for the project (its
        last_event_id or the last replayed id); held events at or below it were
        in the replay.
        """
        held = client.holding.pop(project, None) or []
        client.floors[project] = floor
        flushed = 0
        for event_id, frames in sorted(held, key=lambda item: item[0]):
            if event_id <= floor:
                continue
            client.put(frames)
            client.floors[project] = event_id
            flushed += 1
        metrics.EVENTS_OUT.labels("held").inc(flushed)
        return flushed
