"""The sidecar's long-running jobs: the ways a persisted event reaches this instance's fan-out.

* the **relay** (:func:`include.events.relay.run_relay`) moves events from the
  outbox into the database and hands each to :meth:`BackgroundTasks.publish`;
* with Redis, **forward** publishes those events on the Socket.IO Redis channel,
  where :class:`DashboardRedisManager` of every other instance receives them;
* the **sweep** reads the execution-log table, because pub/sub loses messages
  while a subscriber is away and an instance killed between persisting and
  forwarding never forwards;
* the **reconciler** (:mod:`include.events.reconcile`) reports states no
  listener hook sees, under a lease so that one instance polls Airflow.

Whatever the source, events pass through the one :class:`~dashboard_server.fanout.Sequencer`,
which hands them to the fan-out in id order, so a client's highest id is always
a safe point to resume from, whichever instance it reconnects to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import socketio

from dashboard_server import db, metrics
from dashboard_server.fanout import Sequencer
from dashboard_server.gcpolicy import watch_loop_lag
from dashboard_server.sidecar import Sidecar, TimedRelayStats
from include.events.reconcile import LEASE_MIN_SECONDS, LEASE_POLLS, ReconcilerLease, run_reconciler
from include.events.relay import run_relay

log = logging.getLogger("dashboard_server")

FANOUT_EVENT = "__autopr_state__"  # internal: a persisted event travelling between instances
SWEEP_INTERVAL = 1.0
#: Events waiting to be forwarded to the other instances; beyond it they catch up by sweep.
FORWARD_QUEUE_MAX = 10_000


class DashboardRedisManager(socketio.AsyncRedisManager):
    """The Socket.IO Redis manager, plus one message kind of our own.

    State events published by another instance arrive on the same channel as
    the library's room emits, but go through the :class:`Sequencer` (back into
    id order) and the fan-out (encode once, held during replays,
    de-duplicated) instead of the generic emit path.
    """

    def __init__(self, url: str, *, channel: str, sequencer: Sequencer):
        super().__init__(url, channel=channel)
        self.sequencer = sequencer

    async def _handle_emit(self, message):
        if message.get("event") == FANOUT_EVENT:
            self.sequencer.offer(message["data"][0], "redis")
            return
        await super()._handle_emit(message)


class BackgroundTasks:
    """Starts and stops one sidecar's jobs with the ASGI app's lifespan."""

    def __init__(self, sidecar: Sidecar):
        self.sidecar = sidecar

    async def publish(self, wire: dict) -> None:
        """Called by the relay after an event is persisted: fan it out here and to other instances.

        Never waits on Redis: local delivery is synchronous, and the copy for other
        instances is queued for :meth:`_forward`.  If Redis is slow or down, other
        instances still get the event from their database sweep, and the relay
        (which holds the global writer lock while it publishes) is never stalled.
        """
        sidecar = self.sidecar
        sidecar.sequencer.offer(wire, "relay")
        if sidecar.forward_queue is not None:
            try:
                sidecar.forward_queue.put_nowait(wire)
            except asyncio.QueueFull:
                log.warning("forward queue full; other instances will pick event %s up by sweep", wire.get("id"))

    async def _forward(self, queue: asyncio.Queue, manager: DashboardRedisManager) -> None:
        """Publish persisted events on the Socket.IO Redis channel for the other sidecar instances."""
        sidecar = self.sidecar
        while not sidecar.stop.is_set():
            wire = await queue.get()
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
                await sidecar.redis.publish(manager.channel, json.dumps(message, default=str))
            except Exception as exc:  # noqa: BLE001 - other instances catch up through the sweep
                log.warning("could not forward event %s to other instances: %s", wire.get("id"), exc)

    async def _sweep(self) -> None:
        """Deliver persisted events this instance never received, and settle the order of the rest.

        Relays commit ids in increasing order (include/events/store.py), so one
        read of the ids above the sequencer's position settles every id up to
        the highest it returns: the ones this process has not seen are loaded
        and delivered in order with those already waiting, and the ones not
        there never will be.  The first look reads ids only; whole rows are
        loaded just for the missing ones, so a healthy instance pays one index
        scan per sweep.
        """
        sidecar = self.sidecar
        stop, sequencer, fanout = sidecar.stop, sidecar.sequencer, sidecar.fanout
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
                sidecar.database_failed(exc)
                log.warning("sweep: database unavailable (%s)", exc)
                sequencer.expire()
                continue
            sidecar.database_failure = None
            if ids:
                sequencer.settle(ids[-1], rows)
            sequencer.expire()

    async def _relay(self) -> None:
        """Run the relay in this process, restarting it if it crashes; its counters feed /healthz and /metrics."""
        sidecar = self.sidecar
        sidecar.relay_stats = TimedRelayStats()
        stages = {name: metrics.RELAY_STAGE.labels(name) for name in ("outbox", "persist", "publish")}

        def observe(stage: str, seconds: float) -> None:
            stages[stage].observe(seconds)

        while not sidecar.stop.is_set():
            try:
                await run_relay(
                    self.publish, settings=sidecar.settings, stop=sidecar.stop, stats=sidecar.relay_stats,
                    observe=observe,
                )  # fmt: skip
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event relay crashed; restarting in 1 s")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(sidecar.stop.wait(), 1.0)

    def _spawn(self, coro, name: str) -> None:
        self.sidecar.tasks.append(asyncio.create_task(coro, name=name))

    async def start(self) -> None:
        sidecar = self.sidecar
        settings, sio = sidecar.settings, sidecar.sio
        sidecar.stop.clear()
        try:
            sidecar.sequencer.start(await asyncio.to_thread(db.max_event_id))
        except Exception as exc:  # noqa: BLE001 - the sweep starts the ordering once the database answers
            log.warning("highest event id unavailable (%s); ordering starts with the first sweep", exc)
        manager = sio.manager
        if isinstance(manager, DashboardRedisManager):
            # Listen to the other instances from the start, not from the first client's connect
            # (python-socketio's default): otherwise each of their events waits for the sweep.
            if not sio.manager_initialized:
                sio.manager_initialized = True
                manager.initialize()
            sidecar.forward_queue = asyncio.Queue(maxsize=FORWARD_QUEUE_MAX)
            self._spawn(self._forward(sidecar.forward_queue, manager), "forward")
        self._spawn(self._relay(), "relay")
        self._spawn(self._sweep(), "sweep")
        self._spawn(sidecar.presence.heartbeat(sidecar.stop), "presence")
        self._spawn(watch_loop_lag(sidecar.stop), "loop-lag")
        sidecar.gc_policy.install()  # last: freezes what startup created
        if sidecar.gc_policy.interval > 0:
            self._spawn(sidecar.gc_policy.run(sidecar.stop), "gc")
        if settings.events_reconcile_interval > 0:
            interval = settings.events_reconcile_interval
            sidecar.reconciler_lease = ReconcilerLease(settings, ttl=max(LEASE_POLLS * interval, LEASE_MIN_SECONDS))
            reconcile = run_reconciler(sidecar.stop, interval=interval, settings=settings, lease=sidecar.reconciler_lease)
            self._spawn(reconcile, "reconciler")
        log.info("dashboard sidecar started (redis=%s)", bool(settings.redis_url))

    async def stop(self) -> None:
        sidecar = self.sidecar
        sidecar.stop.set()
        await sidecar.presence.clear()
        for task in sidecar.tasks:
            task.cancel()
        await asyncio.gather(*sidecar.tasks, return_exceptions=True)
        sidecar.tasks.clear()
        sidecar.gc_policy.uninstall()
