"""The dashboard sidecar: a module-level python-socketio server and small handlers.

Flow of one state event (see include/events): the Airflow listener puts it in
the outbox -> :func:`_run_relay` (here, in the sidecar) persists it, which
gives it its monotonic id -> :func:`publish` fans it out to this instance's
clients and, with Redis configured, to every other sidecar instance over the
Socket.IO Redis channel -> clients in the ``project:<slug>`` room.

Pub/sub loses messages while a subscriber is away (Redis restarting, an
instance reconnecting), so :func:`_sweep` also reads the execution-log table
every second and delivers anything this instance has not fanned out yet;
clients that were away themselves reconnect with ``last_event_id`` and get the
gap replayed from the database before live events.  Whatever the source
(relay, pub/sub, sweep), events pass through one :class:`Sequencer` that
hands them to the fan-out in id order, so a client's highest id is always a
safe point to resume from, whichever instance it reconnects to.

Client protocol (all payloads validated by dashboard_server.payloads):
  connect   auth={token, last_event_id?}   refused with a reason if bad
  join      {project, last_event_id?}      ack {ok, project, role, replayed, watchers}
  leave     {project}                      ack {ok}
server -> client: ``event`` (a state event), ``notification``, ``presence``,
``error`` ({event, field, message}); the connection stays up after an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import socketio
from pydantic import BaseModel, ValidationError

from dashboard_server import db, metrics
from dashboard_server.fanout import Client, Fanout, Sequencer, direct_writer
from dashboard_server.gcpolicy import GcPolicy, watch_loop_lag
from dashboard_server.payloads import ConnectAuth, JoinRequest, LeaveRequest, describe
from dashboard_server.presence import Presence
from dashboard_server.ratelimit import make_buckets
from include.auth.tokens import TokenError, verify_token
from include.settings import get_settings

log = logging.getLogger("dashboard_server")

settings = get_settings()
FANOUT_EVENT = "__autopr_state__"  # internal: a persisted event travelling between instances
SWEEP_INTERVAL = 1.0

# Every Redis key and channel the sidecar uses hangs off the event stream's name, so two
# deployments (or two test runs) sharing one Redis never see each other's traffic.
NAMESPACE = settings.events_stream

fanout = Fanout()
sequencer = Sequencer(fanout.deliver)
gc_policy = GcPolicy(settings.dashboard_gc_freeze_interval)


class DashboardRedisManager(socketio.AsyncRedisManager):
    """The Socket.IO Redis manager, plus one message kind of our own.

    State events published by another instance arrive on the same channel as
    the library's room emits, but go through :class:`Sequencer` (back into id
    order) and :class:`Fanout` (encode once, held during replays,
    de-duplicated) instead of the generic emit path.
    """

    async def _handle_emit(self, message):
        if message.get("event") == FANOUT_EVENT:
            sequencer.offer(message["data"][0], "redis")
            return
        await super()._handle_emit(message)


def _redis_client():
    if not settings.redis_url:
        return None
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)


redis_client = _redis_client()
manager = (
    DashboardRedisManager(settings.redis_url, channel=f"{NAMESPACE}:dashboard")
    if settings.redis_url
    else socketio.AsyncManager()
)
sio = socketio.AsyncServer(
    async_mode="asgi",
    client_manager=manager,
    cors_allowed_origins=settings.dashboard_allowed_origins,
    transports=["websocket", "polling"],
    ping_interval=20,
    ping_timeout=20,
    max_http_buffer_size=64 * 1024,
)
presence = Presence(fanout, redis_client, prefix=f"{NAMESPACE}:presence:")
connect_limit = make_buckets(
    redis_client, settings.dashboard_connect_rate, settings.dashboard_connect_burst, f"{NAMESPACE}:rl:connect:"
)
event_limit = make_buckets(
    redis_client, settings.dashboard_event_rate, settings.dashboard_event_burst, f"{NAMESPACE}:rl:events:"
)


def _room(project: str) -> str:
    return f"project:{project}"


def _client_ip(environ: dict) -> str:
    client = (environ.get("asgi.scope") or {}).get("client")
    return client[0] if client else environ.get("REMOTE_ADDR", "unknown")


async def _error(sid: str, event: str, message: str, field: str | None = None, **extra) -> dict:
    body = {"event": event, "field": field, "message": message, **extra}
    await sio.emit("error", body, to=sid)
    return {"ok": False, **body}


async def _parse(sid: str, event: str, model: type[BaseModel], data: object):
    """Validate a client payload; on failure emit ``error`` naming the field and return None."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        metrics.CLIENT_EVENTS.labels("invalid").inc()
        problem = describe(exc)
        return await _error(sid, event, problem["message"], problem["field"], errors=problem["errors"])


async def _admit(sid: str, event: str) -> Client | dict:
    """The connection's client if it may send another event now, else the error ack."""
    client = fanout.clients.get(sid)
    if client is None:
        return {"ok": False, "event": event, "message": "not connected"}
    if not await event_limit.allow(sid):
        metrics.CLIENT_EVENTS.labels("rate_limited").inc()
        return await _error(sid, event, "rate limited: too many events on this connection, slow down")
    metrics.CLIENT_EVENTS.labels("accepted").inc()
    return client


def _expire(sid: str) -> None:
    async def close() -> None:
        if sid in fanout.clients:
            await sio.emit("error", {"event": "auth", "field": "token", "message": "token expired"}, to=sid)
            await sio.disconnect(sid)

    asyncio.ensure_future(close())


def _drop_slow(sid: str) -> None:
    log.warning("client %s is too far behind; disconnecting it (it will reconnect and replay)", sid)
    asyncio.ensure_future(sio.disconnect(sid))


fanout.on_slow_client = _drop_slow
if settings.dashboard_fanout == "library":
    fanout.library_emit = sio.emit


PRESENCE_DEBOUNCE = 0.5
_presence_due: set[str] = set()


async def _broadcast_presence(project: str) -> None:
    """Tell a project's room who is watching, at most every PRESENCE_DEBOUNCE seconds.

    Broadcasting on every join would cost O(room size) per join, O(n^2) when a
    thousand clients join one room after a deploy; coalescing keeps it O(n).
    """
    if project in _presence_due:
        return
    _presence_due.add(project)

    async def later() -> None:
        await asyncio.sleep(PRESENCE_DEBOUNCE)
        _presence_due.discard(project)
        watchers = await presence.watchers(project)
        body = {"project": project, "watchers": watchers, "count": len(watchers)}
        await sio.emit("presence", body, room=_room(project))

    asyncio.ensure_future(later())


# --- handlers -------------------------------------------------------------------


@sio.event
async def connect(sid, environ, auth):
    ip = _client_ip(environ)
    if not await connect_limit.allow(ip):
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
    eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
    client = Client(
        sid=sid,
        username=identity.username,
        ip=ip,
        expires_at=identity.expires_at,
        last_event_id=request.last_event_id,
        socket=sio.eio.sockets[eio_sid],
        direct=direct_writer(environ) if settings.dashboard_fanout == "lean" else None,
    )
    loop = asyncio.get_running_loop()
    client.expiry = loop.call_later(max(0.0, identity.expires_at - time.time()), _expire, sid)
    fanout.add(client)
    metrics.CONNECTS.labels("accepted").inc()


@sio.event
async def disconnect(sid, reason=None):
    client = fanout.clients.get(sid)
    projects = sorted(client.projects) if client is not None else []
    fanout.remove(sid)
    event_limit.forget(sid)
    if client is None:
        return
    for project in projects:
        await presence.left(client.username, sid, project)
        await _broadcast_presence(project)


@sio.event
async def join(sid, data=None):
    client = await _admit(sid, "join")
    if isinstance(client, dict):
        return client
    request = await _parse(sid, "join", JoinRequest, data)
    if isinstance(request, dict):
        return request
    project = request.project
    # Membership is checked on every join, never cached: a removed member loses access at once.
    role = await asyncio.to_thread(db.role_of, client.username, project)
    if role is None:
        metrics.CLIENT_EVENTS.labels("forbidden").inc()
        return await _error(sid, "join", f"not a member of project {project!r}", "project")
    if sid not in fanout.clients:
        return {"ok": False, "event": "join", "message": "disconnected"}
    if project in client.projects:
        return {"ok": True, "project": project, "role": role, "replayed": 0, "already_joined": True}
    after = request.last_event_id if request.last_event_id is not None else client.last_event_id
    fanout.enter(client, project, hold=after is not None)
    await sio.enter_room(sid, _room(project))
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
        except Exception:
            log.exception("replay of %s for %s failed", project, client.username)
            fanout.leave(client, project)
            await sio.leave_room(sid, _room(project))
            return await _error(sid, "join", "replay failed; join again", "last_event_id")
        fanout.finish_replay(client, project, cursor)
    await presence.joined(client.username, sid, project)
    await _broadcast_presence(project)
    watchers = await presence.watchers(project)
    return {"ok": True, "project": project, "role": role, "replayed": replayed, "watchers": watchers}


@sio.event
async def leave(sid, data=None):
    client = await _admit(sid, "leave")
    if isinstance(client, dict):
        return client
    request = await _parse(sid, "leave", LeaveRequest, data)
    if isinstance(request, dict):
        return request
    if request.project in client.projects:
        fanout.leave(client, request.project)
        await sio.leave_room(sid, _room(request.project))
        await presence.left(client.username, sid, request.project)
        await _broadcast_presence(request.project)
    return {"ok": True, "project": request.project}


@sio.on("*")
async def unknown_event(event, sid, data=None):
    client = await _admit(sid, event)
    if isinstance(client, dict):
        return client
    return await _error(sid, event, f"unknown event {event!r}; use join or leave", "event")


# --- event intake -----------------------------------------------------------------


_forward_queue: asyncio.Queue | None = None


async def publish(wire: dict) -> None:
    """Called by the relay after an event is persisted: fan it out here and to other instances.

    Never waits on Redis: local delivery is synchronous, and the copy for other
    instances is queued for :func:`_forward`.  If Redis is slow or down, other
    instances still get the event from their database sweep, and the relay
    (which holds the global writer lock while it publishes) is never stalled.
    """
    sequencer.offer(wire, "relay")
    if _forward_queue is not None:
        try:
            _forward_queue.put_nowait(wire)
        except asyncio.QueueFull:
            log.warning("forward queue full; other instances will pick event %s up by sweep", wire.get("id"))


async def _forward(stop: asyncio.Event) -> None:
    """Publish persisted events on the Socket.IO Redis channel for the other sidecar instances."""
    assert _forward_queue is not None and redis_client is not None
    while not stop.is_set():
        wire = await _forward_queue.get()
        message = {
            "method": "emit",
            "event": FANOUT_EVENT,
            "data": [wire],
            "binary": False,
            "namespace": "/",
            "room": None,
            "skip_sid": None,
            "callback": None,
            "host_id": manager.host_id,
        }
        try:
            await redis_client.publish(manager.channel, json.dumps(message, default=str))
        except Exception as exc:  # noqa: BLE001 - other instances catch up through the sweep
            log.warning("could not forward event %s to other instances: %s", wire.get("id"), exc)


async def _sweep(stop: asyncio.Event) -> None:
    """Deliver persisted events this instance never received, and settle the order of the rest.

    Pub/sub loses messages (Redis restarting), and an instance killed between
    persisting and forwarding never forwards.  Relays commit ids in increasing
    order (include/events/store.py), so one read of the ids above the
    sequencer's position settles every id up to the highest it returns: the
    ones this process has not seen are loaded and delivered in order with
    those already waiting, and the ones not there never will be.  The first
    look reads ids only; whole rows are loaded just for the missing ones, so a
    healthy instance pays one index scan per second.
    """
    global sweep_failure
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), SWEEP_INTERVAL)
        if stop.is_set():
            break
        try:
            if sequencer.next_id is None:
                sequencer.start(await asyncio.to_thread(db.max_event_id))
                continue
            ids = await asyncio.to_thread(db.ids_after, sequencer.next_id - 1)
            missing = [i for i in ids if i not in fanout.recent and i not in sequencer.waiting]
            rows = await asyncio.to_thread(db.events_by_ids, missing) if missing else []
        except Exception as exc:  # noqa: BLE001 - the database may be restarting; try again
            sweep_failure = f"{type(exc).__name__}: {exc}"
            log.warning("sweep: database unavailable (%s)", exc)
            sequencer.expire()
            continue
        sweep_failure = None
        if ids:
            sequencer.settle(ids[-1], rows)
        sequencer.expire()


#: Why the last sweep could not read the database (None: it could).  Only an authenticated
#: /healthz shows the text: a driver's message names the database host and port.
sweep_failure: str | None = None
#: A relay error within this many seconds, not followed by an acknowledged batch, degrades /healthz.
RELAY_ERROR_WINDOW = 30.0
relay_stats = None


def _timed_relay_stats():
    """The relay's counters, plus when the last error and the last acknowledged batch happened.

    The relay only counts errors; health needs to know whether they are still
    happening.  Timestamps are taken when the counters change, so the relay's
    own code stays as it is; a counter update costs one more Python call.
    """
    from dataclasses import dataclass

    from include.events.relay import RelayStats

    @dataclass
    class TimedRelayStats(RelayStats):
        last_error_at: float = 0.0
        last_ack_at: float = 0.0

        def __setattr__(self, name: str, value) -> None:
            object.__setattr__(self, name, value)
            if name == "errors":
                object.__setattr__(self, "last_error_at", time.time())
            elif name == "acked":
                object.__setattr__(self, "last_ack_at", time.time())

    return TimedRelayStats()


def relay_failing(now: float | None = None) -> bool:
    """The relay hit an error recently and has acknowledged nothing since."""
    stats = relay_stats
    if stats is None or not stats.errors:
        return False
    now = time.time() if now is None else now
    return stats.last_error_at > stats.last_ack_at and now - stats.last_error_at < RELAY_ERROR_WINDOW


async def _run_relay(stop: asyncio.Event) -> None:
    global relay_stats
    from include.events.relay import run_relay

    relay_stats = _timed_relay_stats()
    stages = {name: metrics.RELAY_STAGE.labels(name) for name in ("outbox", "persist", "publish")}

    def observe(stage: str, seconds: float) -> None:
        stages[stage].observe(seconds)

    while not stop.is_set():
        try:
            await run_relay(publish, settings=settings, stop=stop, stats=relay_stats, observe=observe)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event relay crashed; restarting in 1 s")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


_stop = asyncio.Event()
_tasks: list[asyncio.Task] = []


reconciler_lease = None


async def startup() -> None:
    global _forward_queue, reconciler_lease
    _stop.clear()
    try:
        sequencer.start(await asyncio.to_thread(db.max_event_id))
    except Exception as exc:  # noqa: BLE001 - the sweep starts the ordering once the database answers
        log.warning("highest event id unavailable (%s); ordering starts with the first sweep", exc)
    if isinstance(manager, DashboardRedisManager):
        # Listen to the other instances from the start, not from the first client's connect
        # (python-socketio's default): otherwise each of their events waits for the sweep.
        if not sio.manager_initialized:
            sio.manager_initialized = True
            manager.initialize()
        _forward_queue = asyncio.Queue(maxsize=10_000)
        _tasks.append(asyncio.create_task(_forward(_stop), name="forward"))
    _tasks.append(asyncio.create_task(_run_relay(_stop), name="relay"))
    _tasks.append(asyncio.create_task(_sweep(_stop), name="sweep"))
    _tasks.append(asyncio.create_task(presence.heartbeat(_stop), name="presence"))
    _tasks.append(asyncio.create_task(watch_loop_lag(_stop), name="loop-lag"))
    gc_policy.install()  # last: freezes what startup created
    if gc_policy.interval > 0:
        _tasks.append(asyncio.create_task(gc_policy.run(_stop), name="gc"))
    if settings.events_reconcile_interval > 0:
        from include.events.reconcile import LEASE_MIN_SECONDS, LEASE_POLLS, ReconcilerLease, run_reconciler

        interval = settings.events_reconcile_interval
        reconciler_lease = ReconcilerLease(settings, ttl=max(LEASE_POLLS * interval, LEASE_MIN_SECONDS))
        reconcile = run_reconciler(_stop, interval=interval, settings=settings, lease=reconciler_lease)
        _tasks.append(asyncio.create_task(reconcile, name="reconciler"))
    log.info("dashboard sidecar started (redis=%s)", bool(settings.redis_url))


async def shutdown() -> None:
    _stop.set()
    await presence.clear()
    for task in _tasks:
        task.cancel()
    await asyncio.gather(*_tasks, return_exceptions=True)
    _tasks.clear()
    gc_policy.uninstall()


def task_status() -> dict[str, str]:
    return {t.get_name(): ("done" if t.done() else "running") for t in _tasks}


from dashboard_server.http import build_http_app

app = socketio.ASGIApp(sio, other_asgi_app=build_http_app(), on_startup=startup, on_shutdown=shutdown)
