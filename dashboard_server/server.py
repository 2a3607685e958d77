"""The dashboard sidecar's app factory: :func:`create_app` wires one :class:`~dashboard_server.sidecar.Sidecar`.

Flow of one state event (see include/events): the Airflow listener puts it in
the outbox -> the relay (:mod:`dashboard_server.background`, in this process)
persists it, which gives it its monotonic id -> the fan-out sends it to this
instance's clients and, with Redis configured, it is forwarded to every other
sidecar instance over the Socket.IO Redis channel -> clients in the
``project:<slug>`` room (:mod:`dashboard_server.sockets`).

Why a factory: every piece (handlers, routes, background tasks, metrics) is
given the state it works on instead of reaching for module globals, so the
pieces import one another in one direction only and a test can build an app
with its own settings.  Building an app opens no connection (the Redis clients
connect on first use, the database at startup), so ``app`` below is safe to
create at import for ``uvicorn dashboard_server.server:app``.
"""

from __future__ import annotations

import socketio

from dashboard_server import metrics
from dashboard_server.background import BackgroundTasks, DashboardRedisManager
from dashboard_server.drift import mount_drift
from dashboard_server.fanout import Fanout, Sequencer
from dashboard_server.gcpolicy import GcPolicy
from dashboard_server.history import mount_history
from dashboard_server.http import build_http_app
from dashboard_server.outcomes import mount_outcomes
from dashboard_server.presence import Presence
from dashboard_server.ratelimit import make_buckets
from dashboard_server.reviews import mount_reviews
from dashboard_server.sidecar import Sidecar
from dashboard_server.sockets import SocketHandlers
from include.settings import Settings, get_settings


def _redis_client(settings: Settings):
    if not settings.redis_url:
        return None
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)


def build_sidecar(settings: Settings | None = None) -> Sidecar:
    """The state of one sidecar, wired for ``settings`` (default: the process settings)."""
    settings = settings or get_settings()
    # Every Redis key and channel hangs off the event stream's name (Sidecar.namespace).
    namespace = settings.events_stream
    fanout = Fanout()
    sequencer = Sequencer(fanout.deliver)
    redis = _redis_client(settings)
    manager = (
        DashboardRedisManager(settings.redis_url, channel=f"{namespace}:dashboard", sequencer=sequencer)
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
    return Sidecar(
        settings=settings,
        fanout=fanout,
        sequencer=sequencer,
        gc_policy=GcPolicy(settings.dashboard_gc_freeze_interval),
        sio=sio,
        redis=redis,
        presence=Presence(fanout, redis, prefix=f"{namespace}:presence:"),
        connect_limit=make_buckets(
            redis, settings.dashboard_connect_rate, settings.dashboard_connect_burst, f"{namespace}:rl:connect:"
        ),
        event_limit=make_buckets(
            redis, settings.dashboard_event_rate, settings.dashboard_event_burst, f"{namespace}:rl:events:"
        ),
    )


def create_app(settings: Settings | None = None) -> socketio.ASGIApp:
    """The sidecar's ASGI app: Socket.IO under /socket.io/, the HTTP routes and the page everywhere else."""
    sidecar = build_sidecar(settings)
    SocketHandlers(sidecar).register()
    background = BackgroundTasks(sidecar)
    metrics.watch(sidecar)
    app = socketio.ASGIApp(
        sidecar.sio,
        other_asgi_app=mount_drift(
            mount_outcomes(mount_reviews(mount_history(build_http_app(sidecar), sidecar), sidecar), sidecar), sidecar),
        on_startup=background.start,
        on_shutdown=background.stop,
    )
    app.sidecar = sidecar
    return app


app = create_app()
