"""The Socket.IO side of the sidecar: what a browser may send, and what it gets back.

Client protocol (every payload validated by :mod:`dashboard_server.payloads`):

  connect   auth={token, last_event_id?}   refused with a reason if bad
  join      {project, last_event_id?}      ack {ok, project, role, replayed, count, seq,
                                               watchers | sample, resync?}
  leave     {project}                      ack {ok}

server -> client: ``event`` (a state event), ``notification``, ``presence``
({project, seq, count, joined, left, watchers?, more_joined?, more_left?}: coalesced deltas, see
:mod:`dashboard_server.presence`), ``error`` ({event, field, message}); the
connection stays up after an error.

A join is always answered.  With the app database down the answer is an
``error`` {reason: "database", retry: true, message: "history unavailable,
retrying"} the page shows (it joins again later).  A ``last_event_id`` above
the newest stored id (a tab open across a database restore) is answered with a
full replay of the project, and the ack's ``resync`` says why: resuming after
an id nobody will ever commit would hold back every live event.

Why the handlers are this thin: delivery, replay holding and ordering live in
:mod:`dashboard_server.fanout`, so a handler only authenticates, checks
membership (on every join, never cached: a removed member loses access at
once) and tells the fan-out who is in which room.
"""

from __future__ import annotations

import asyncio
import logging
import time

import socketio
from pydantic import BaseModel, ValidationError

from dashboard_server import db, metrics
from dashboard_server.fanout import Client, direct_writer
from dashboard_server.http import DATABASE_UNAVAILABLE
from dashboard_server.membership import MembershipChecks
from dashboard_server.payloads import ConnectAuth, JoinRequest, LeaveRequest, describe
from dashboard_server.sidecar import Sidecar
from include.auth.tokens import TokenError, verify_token

log = logging.getLogger("dashboard_server")


def room_of(project: str) -> str:
    return f"project:{project}"


def index_rooms_by_sid(manager) -> None:
    """Make a disconnect cost O(the client's rooms) instead of O(every room) in python-socketio's manager.

    Why: ``BaseManager.basic_disconnect`` copies and scans every room of the
    namespace to find the leaver's, and every connection has a room of its own,
    so each disconnect costs O(connections) on the event loop: O(n^2) when a
    deploy drops a full sidecar's clients at once, while they all reconnect.
    This keeps, per manager instance, which rooms each sid entered (every room,
    including its own and the namespace's None room, goes through
    ``basic_enter_room``) and leaves exactly those; the rest of the library's
    disconnect bookkeeping is unchanged.
    """
    rooms_of: dict[tuple[str, str], set] = {}
    enter, leave = manager.basic_enter_room, manager.basic_leave_room

    def basic_enter_room(sid, namespace, room, eio_sid=None):
        result = enter(sid, namespace, room, eio_sid=eio_sid)
        rooms_of.setdefault((namespace, sid), set()).add(room)
        return result

    def basic_leave_room(sid, namespace, room):
        leave(sid, namespace, room)
        entered = rooms_of.get((namespace, sid))
        if entered is not None:
            entered.discard(room)
            if not entered:
                del rooms_of[(namespace, sid)]

    def basic_disconnect(sid, namespace, **kwargs):
        if namespace not in manager.rooms:
            return
        for room in rooms_of.pop((namespace, sid), ()):
            leave(sid, namespace, room)
        # the rest of BaseManager.basic_disconnect (python-socketio 5), unchanged
        manager.callbacks.pop(sid, None)
        for pending in (manager.pending_connect, manager.pending_disconnect):
            if sid in pending.get(namespace, ()):
                pending[namespace].remove(sid)
                if not pending[namespace]:
                    del pending[namespace]

    manager.basic_enter_room = basic_enter_room
    manager.basic_leave_room = basic_leave_room
    manager.basic_disconnect = basic_disconnect
    manager.rooms_of = rooms_of


def _client_ip(environ: dict) -> str:
    client = (environ.get("asgi.scope") or {}).get("client")
    return client[0] if client else environ.get("REMOTE_ADDR", "unknown")


class SocketHandlers:
    """The Socket.IO event handlers of one sidecar; :meth:`register` attaches them to its server."""

    def __init__(self, sidecar: Sidecar):
        self.sidecar = sidecar
        self.sio = sidecar.sio
        self.fanout = sidecar.fanout
        self.membership = MembershipChecks()

    def register(self) -> None:
        sio = self.sio
        sio.on("connect", self.connect)
        sio.on("disconnect", self.disconnect)
        sio.on("join", self.join)
        sio.on("leave", self.leave)
        sio.on("*", self.unknown_event)
        self.fanout.on_slow_client = self.drop_slow
        index_rooms_by_sid(sio.manager)
        presence = self.sidecar.presence
        presence.send = self.fanout.broadcast
        presence.interval = self.sidecar.settings.dashboard_presence_interval
        presence.list_max = self.sidecar.settings.dashboard_presence_list_max
        if self.sidecar.settings.dashboard_fanout == "library":
            self.fanout.library_emit = sio.emit

    # -- helpers -------------------------------------------------------------

    async def _error(self, sid: str, event: str, message: str, field: str | None = None, **extra) -> dict:
        body = {"event": event, "field": field, "message": message, **extra}
        await self.sio.emit("error", body, to=sid)
        return {"ok": False, **body}

    async def _parse(self, sid: str, event: str, model: type[BaseModel], data: object):
        """Validate a client payload; on failure emit ``error`` naming the field and return the error ack."""
        try:
            return model.model_validate(data if data is not None else {})
        except ValidationError as exc:
            metrics.CLIENT_EVENTS.labels("invalid").inc()
            problem = describe(exc)
            return await self._error(sid, event, problem["message"], problem["field"], errors=problem["errors"])

    async def _admit(self, sid: str, event: str) -> Client | dict:
        """The connection's client if it may send another event now, else the error ack."""
        client = self.fanout.clients.get(sid)
        if client is None:
            return {"ok": False, "event": event, "message": "not connected"}
        if not await self.sidecar.event_limit.allow(sid):
            metrics.CLIENT_EVENTS.labels("rate_limited").inc()
            return await self._error(sid, event, "rate limited: too many events on this connection, slow down")
        metrics.CLIENT_EVENTS.labels("accepted").inc()
        return client

    async def _admit_request(self, sid: str, event: str, model: type[BaseModel], data: object):
        """``(client, request)`` for a client event that passed the rate limit and validation, else the error ack."""
        client = await self._admit(sid, event)
        if isinstance(client, dict):
            return client
        request = await self._parse(sid, event, model, data)
        if isinstance(request, dict):
            return request
        return client, request

    async def _unavailable(self, sid: str, project: str, exc: BaseException) -> dict:
        """A join the database cannot serve: the client is told (and retries); /healthz says degraded."""
        self.sidecar.database_failed(exc)
        metrics.CLIENT_EVENTS.labels("unavailable").inc()
        return await self._error(sid, "join", DATABASE_UNAVAILABLE, "project", reason="database", retry=True)

    def _expire(self, sid: str) -> None:
        async def close() -> None:
            if sid in self.fanout.clients:
                await self.sio.emit("error", {"event": "auth", "field": "token", "message": "token expired"}, to=sid)
                await self.sio.disconnect(sid)

        asyncio.ensure_future(close())

    def drop_slow(self, sid: str) -> None:
        """The fan-out's answer to a client too far behind: disconnect it (it reconnects and replays)."""
        log.warning("client %s is too far behind; disconnecting it (it will reconnect and replay)", sid)
        asyncio.ensure_future(self.sio.disconnect(sid))

    # -- handlers ------------------------------------------------------------

    async def connect(self, sid, environ, auth):
        settings = self.sidecar.settings
        ip = _client_ip(environ)
        if not await self.sidecar.connect_limit.allow(ip):
            metrics.CONNECTS.labels("rate_limited").inc()
            raise socketio.exceptions.ConnectionRefusedError("rate limited: too many connections from this address")
        if not isinstance(auth, dict) or not auth.get("token"):
            metrics.CONNECTS.labels("refused").inc()
            raise socketio.exceptions.ConnectionRefusedError("missing token: connect with auth={token, last_event_id}")
        try:
            request = ConnectAuth.model_validate(auth)
        except ValidationError as exc:
            metrics.CONNECTS.labels("refused").inc()
            problem = describe(exc)
            raise socketio.exceptions.ConnectionRefusedError(f"invalid auth: {problem['field']}: {problem['message']}")
        try:
            identity = verify_token(request.token, settings)
        except TokenError as exc:
            metrics.CONNECTS.labels("refused").inc()
            raise socketio.exceptions.ConnectionRefusedError(exc.reason)
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        client = Client(
            sid=sid,
            username=identity.username,
            ip=ip,
            expires_at=identity.expires_at,
            last_event_id=request.last_event_id,
            socket=self.sio.eio.sockets[eio_sid],
            direct=direct_writer(environ) if settings.dashboard_fanout == "lean" else None,
        )
        loop = asyncio.get_running_loop()
        client.expiry = loop.call_later(max(0.0, identity.expires_at - time.time()), self._expire, sid)
        self.fanout.add(client)
        metrics.CONNECTS.labels("accepted").inc()

    async def disconnect(self, sid, reason=None):
        client = self.fanout.clients.get(sid)
        projects = sorted(client.projects) if client is not None else []
        self.fanout.remove(sid)
        self.sidecar.event_limit.forget(sid)
        if client is None:
            return
        for project in projects:
            self.sidecar.presence.left(client.username, sid, project)

    async def join(self, sid, data=None):
        admitted = await self._admit_request(sid, "join", JoinRequest, data)
        if isinstance(admitted, dict):
            return admitted
        client, request = admitted
        fanout = self.fanout
        project = request.project
        # Membership is checked on every join, never cached: a removed member loses access at once
        # (joins arriving together share one query: dashboard_server/membership.py).
        try:
            role = await self.membership.role_of(client.username, project)
        except Exception as exc:  # noqa: BLE001 - said to the client, never an unanswered join
            return await self._unavailable(sid, project, exc)
        if role is None:
            metrics.CLIENT_EVENTS.labels("forbidden").inc()
            return await self._error(sid, "join", f"not a member of project {project!r}", "project")
        if sid not in fanout.clients:
            return {"ok": False, "event": "join", "message": "disconnected"}
        if project in client.projects:
            return {"ok": True, "project": project, "role": role, "replayed": 0, "already_joined": True}
        after = request.last_event_id if request.last_event_id is not None else client.last_event_id
        resync = None
        if after is not None:
            try:
                newest = await asyncio.to_thread(db.max_event_id)
            except Exception as exc:  # noqa: BLE001
                return await self._unavailable(sid, project, exc)
            if after > newest:
                # The client holds ids this database never gave out (restored from a backup, or another
                # deployment's tab): resuming after them would skip every event up to there.
                resync = f"last_event_id {after} is above the newest stored id {newest}: full resync"
                after = 0
        fanout.enter(client, project, hold=after is not None)
        await self.sio.enter_room(sid, room_of(project))
        replayed = 0
        if after is not None:
            try:
                cursor = after
                while True:
                    rows = await asyncio.to_thread(db.events_after, project, cursor)
                    if project not in client.projects or sid not in fanout.clients:
                        return {"ok": False, "event": "join", "message": "left during replay"}
                    fanout.send_replayed(client, rows)
                    replayed += len(rows)
                    if rows:
                        cursor = int(rows[-1]["id"])
                    if len(rows) < db.REPLAY_PAGE:
                        break
            except Exception as exc:  # noqa: BLE001
                log.warning("replay of %s for %s failed: %s", project, client.username, exc)
                fanout.leave(client, project)
                await self.sio.leave_room(sid, room_of(project))
                return await self._unavailable(sid, project, exc)
            fanout.finish_replay(client, project, cursor)
        # O(1) whatever the room's size: a counter moves, the room hears of it in the next coalesced
        # delta, and the ack's names are bounded (dashboard_server/presence.py).
        presence = self.sidecar.presence
        presence.joined(client.username, sid, project)
        ack = {"ok": True, "project": project, "role": role, "replayed": replayed, **presence.snapshot(project)}
        if resync is not None:
            ack["resync"] = resync
        return ack

    async def leave(self, sid, data=None):
        admitted = await self._admit_request(sid, "leave", LeaveRequest, data)
        if isinstance(admitted, dict):
            return admitted
        client, request = admitted
        if request.project in client.projects:
            self.fanout.leave(client, request.project)
            await self.sio.leave_room(sid, room_of(request.project))
            self.sidecar.presence.left(client.username, sid, request.project)
        return {"ok": True, "project": request.project}

    async def unknown_event(self, event, sid, data=None):
        client = await self._admit(sid, event)
        if isinstance(client, dict):
            return client
        return await self._error(sid, event, f"unknown event {event!r}; use join or leave", "event")
