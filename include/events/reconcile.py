"""Reconcile state events from Airflow's REST API: the states no listener hook reports.

Airflow's listener hooks cover a task instance running / succeeding / failing /
skipping itself, and a DAG run running / succeeding / failing.  Airflow 3.3
has no scheduler-side hook for the rest (its listener specs are the task
instance, DAG run, asset, import error and lifecycle ones): nothing fires when
the scheduler schedules or queues a task, marks it ``upstream_failed``, skips
it by trigger rule or branch, defers or reschedules it, removes it, or queues
a DAG run.  The reconciler polls Airflow's public API for what changed since
its last look (``updated_at_gte``) and hands an event for each such state to
the same outbox the listener uses.

Incremental, so it can poll about every second (``events_reconcile_interval``)
and show every state no later than Airflow's own UI (which polls every few
seconds): each poll reads only the rows updated since the previous one began,
minus ``overlap`` (a scheduler transaction may commit a moment after the time
it wrote), and an event it already handed off in that overlap is not handed
off again.

It is also the safety net for hook-reported states: if a task's ``success``
event was lost (a worker disk died with the spool on it), the reconciler
reports it once the task instance has been in that state for ``grace``
seconds.  The grace keeps it from racing the listener (which would put a
``success`` before its ``running``); a state seen before its grace is over is
kept until it is (or until a newer state replaces it), since an incremental
poll does not read the row again.  Event keys are idempotent, so a state
reported by both the listener and the reconciler is stored once.

``occurred_at`` is Airflow's own time of the state where it records one
(``scheduled_when``, ``queued_when``, ``end_date``, ``queued_at``), so the
dashboard orders states by what happened (:mod:`include.events.ordering`).

Airflow is read through the platform's one REST client
(:class:`include.airflow_client.AirflowClient`): a bearer token from ``POST
/auth/token`` with ``settings.airflow_api_username`` / ``airflow_api_password``
(re-issued on 401), or a token passed in.  The client is synchronous, so each
poll's reads run in a worker thread, off the sidecar's event loop.  The sidecar runs :func:`run_reconciler` (or calls
:func:`reconcile_once` on a timer); scripts can use :func:`reconcile_once_sync`.
With several sidecar instances only one of them polls at a time, whichever
holds the :class:`ReconcilerLease`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from include.airflow_client import AirflowClient, AirflowError, AirflowUnavailable
from include.events import ordering
from include.events.outbox import Outbox, get_outbox
from include.events.schema import DEFAULT_PROJECT, StateEvent, project_from_tags
from include.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Task-instance states no listener hook reports.
TI_HOOKLESS_STATES = frozenset(
    {"scheduled", "queued", "upstream_failed", "skipped", "removed", "deferred", "up_for_reschedule", "awaiting_input"}
)
#: Task-instance states hooks report; reconciled only after the grace period (safety net).
TI_HOOK_STATES = frozenset({"running", "success", "failed", "up_for_retry"})
#: The task-instance field holding Airflow's own time of a state (``end_date`` for those not listed).
TI_STATE_TIME = {"scheduled": "scheduled_when", "queued": "queued_when", "running": "start_date"}
#: States Airflow records a time of; the others (deferred, up_for_reschedule, ...) get the poll's time.
TI_TIMED_STATES = frozenset(TI_STATE_TIME) | ordering.TERMINAL_STATES | {"up_for_retry"}
DAG_RUN_HOOKLESS_STATES = frozenset({"queued"})
DAG_RUN_HOOK_STATES = frozenset({"running", "success", "failed"})


class ReconcileError(RuntimeError):
    """Airflow's API refused or failed; the message says which call and why."""


@dataclass
class ReconcileResult:
    task_instances_seen: int = 0
    dag_runs_seen: int = 0
    emitted: int = 0
    next_since: datetime | None = None
    emitted_events: list[StateEvent] = field(default_factory=list, repr=False)


def _parse_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _reconcile_error(exc: AirflowError, base_url: str) -> ReconcileError:
    """The client's error as the reconciler has always worded it (which call, and why)."""
    where = f"{exc.method} {exc.path}"
    if isinstance(exc, AirflowUnavailable):
        return ReconcileError(f"{where}: Airflow API unreachable at {base_url.rstrip('/')} ({exc.detail})")
    return ReconcileError(f"{where} failed: HTTP {exc.status} {exc.detail[:200]}")


class Reconciler:
    """Remembers where the last poll ended and which project each DAG belongs to."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        outbox: Outbox | None = None,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        lookback: timedelta = timedelta(hours=1),
        overlap: timedelta = timedelta(seconds=5),
        grace: timedelta = timedelta(seconds=60),
    ):
        self.settings = settings or get_settings()
        self.outbox = outbox or get_outbox(self.settings)
        self._token = token
        self._transport = transport
        self._timeout = timeout
        self.lookback = lookback
        self.overlap = overlap
        self.grace = grace
        self.since: datetime | None = None
        self._projects: dict[str, str] = {}
        #: event key -> when it was handed off, for the keys a later poll's overlap may read again.
        self._handed: dict[str, datetime] = {}
        #: task instance or DAG run -> (hook-reported state seen before its grace was over, when it is due).
        self._awaiting_grace: dict[tuple, tuple[StateEvent, datetime]] = {}
        self._client: AirflowClient | None = None

    def client(self) -> AirflowClient:
        """The client every poll uses (service user from the settings, or the token passed in).

        One for the reconciler's life: polling about every second, a client per
        poll would build a TLS context and open a new connection each time, a
        steady CPU cost on the sidecar's event loop host for nothing.
        """
        if self._client is None:
            self._client = AirflowClient(token=self._token, timeout=self._timeout, settings=self.settings,
                                         transport=self._transport)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _project(self, client: AirflowClient, dag_id: str) -> str:
        if dag_id not in self._projects:
            try:
                dag = client.get_dag(dag_id)
            except AirflowError as exc:
                dag, why = None, _reconcile_error(exc, client.base_url)
            else:
                why = f"GET /api/v2/dags/{dag_id} failed: HTTP 404"
            if dag is None:
                log.warning("reconciler: tags of %s unavailable (%s); using project %s", dag_id, why, DEFAULT_PROJECT)
                return DEFAULT_PROJECT
            self._projects[dag_id] = project_from_tags(dag.get("tags") or [])
        return self._projects[dag_id]

    def _read(self, since: datetime, now: datetime) -> tuple[int, int, list[StateEvent]]:
        """The poll's reads (blocking: run in a worker thread): DAG runs and task instances, as events."""
        params = {"updated_at_gte": since.isoformat(), "order_by": "id"}
        events: list[StateEvent] = []
        try:
            client = self.client()
            runs = client.paged("/api/v2/dags/~/dagRuns", "dag_runs", params)
            tis = client.paged("/api/v2/dags/~/dagRuns/~/taskInstances", "task_instances", params)
            # Queued DAG runs first, then task instances in the order Airflow created them.
            for run in runs:
                event = self._dag_run_event(run, self._project(client, run["dag_id"]), now)
                if event is not None:
                    events.append(event)
                    if event.state != "queued" and run.get("queued_at"):
                        # Queued for less than a poll: the run's own queued_at still says it was.
                        events.append(event.model_copy(update={"state": "queued",
                                                               "occurred_at": _parse_dt(run["queued_at"])}))
            for ti in tis:
                event = self._ti_event(ti, self._project(client, ti["dag_id"]), now)
                if event is not None:
                    events.append(event)
        except AirflowError as exc:
            raise _reconcile_error(exc, self.settings.airflow_api_url) from None
        return len(runs), len(tis), events

    def _ti_event(self, ti: dict[str, Any], project: str, now: datetime) -> StateEvent | None:
        state = ti.get("state")
        if not state or state not in TI_HOOKLESS_STATES | TI_HOOK_STATES:
            return None
        start = _parse_dt(ti.get("start_date"))
        if state == "queued" and start is not None:
            return None  # already started: "queued" would arrive after "running"
        changed = _parse_dt(ti.get(TI_STATE_TIME.get(state, "end_date"))) if state in TI_TIMED_STATES else None
        return StateEvent(
            event_type="task_instance",
            project=project,
            dag_id=ti["dag_id"],
            run_id=ti.get("dag_run_id") or ti.get("run_id"),
            task_id=ti["task_id"],
            map_index=int(ti.get("map_index", -1)),
            try_number=int(ti.get("try_number") or 0),
            state=state,
            occurred_at=changed or now,
            payload={
                "source": "reconciler",
                "start_date": ti.get("start_date"),
                "end_date": ti.get("end_date"),
                "duration": ti.get("duration"),
                "operator": ti.get("operator"),
                "hostname": ti.get("hostname"),
                "max_tries": ti.get("max_tries"),
            },
        )

    def _dag_run_event(self, run: dict[str, Any], project: str, now: datetime) -> StateEvent | None:
        state = run.get("state")
        if not state or state not in DAG_RUN_HOOKLESS_STATES | DAG_RUN_HOOK_STATES:
            return None
        start, end, queued = (_parse_dt(run.get(k)) for k in ("start_date", "end_date", "queued_at"))
        changed = (end or start) if state in DAG_RUN_HOOK_STATES else queued
        return StateEvent(
            event_type="dag_run",
            project=project,
            dag_id=run["dag_id"],
            run_id=run["dag_run_id"],
            state=state,
            occurred_at=changed or now,
            payload={
                "source": "reconciler",
                "run_type": run.get("run_type"),
                "logical_date": run.get("logical_date"),
                "start_date": run.get("start_date"),
                "end_date": run.get("end_date"),
            },
        )

    def _select(self, seen: list[StateEvent], now: datetime) -> list[StateEvent]:
        """Of the events a poll read, those to hand off now: hook-less states at once, hooked ones after the grace."""
        due: list[StateEvent] = []
        for event in seen:
            subject = ordering.subject(event)
            hooked = TI_HOOK_STATES if event.event_type == "task_instance" else DAG_RUN_HOOK_STATES
            if event.state in hooked:
                self._awaiting_grace[subject] = (event, event.occurred_at + self.grace)
            else:
                self._awaiting_grace.pop(subject, None)  # a newer, hook-less state replaced it
                due.append(event)
        for subject, (event, due_at) in list(self._awaiting_grace.items()):
            if due_at <= now:
                del self._awaiting_grace[subject]
                due.append(event)
        return [event for event in due if event.key() not in self._handed]

    def _remember(self, events: list[StateEvent], now: datetime) -> None:
        """Keep the keys handed off for as long as a later poll may read their rows again."""
        for event in events:
            self._handed[event.key()] = now
        keep = now - self.overlap - timedelta(minutes=1)
        for key in [key for key, at in self._handed.items() if at < keep]:
            del self._handed[key]

    async def run_once(self, since: datetime | None = None) -> ReconcileResult:
        """One poll: fetch what changed since the last poll, emit the missing events, advance."""
        now = datetime.now(UTC)
        since = since or self.since or (now - self.lookback)
        result = ReconcileResult()
        result.dag_runs_seen, result.task_instances_seen, seen = await asyncio.to_thread(self._read, since, now)
        events = sorted(self._select(seen, now), key=lambda e: e.occurred_at)
        # Off the event loop: in the sidecar this loop also writes every live frame, and a put
        # may take milliseconds (SQLite busy wait, Redis connect, the spool) -- times hundreds of
        # events after an outage.
        await asyncio.to_thread(_hand_off, self.outbox, events)
        self._remember(events, now)
        result.emitted = len(events)
        result.emitted_events = events
        # Overlap the next window: a row updated while we were reading is not missed.
        self.since = result.next_since = now - self.overlap
        return result


def _hand_off(outbox: Outbox, events: list[StateEvent]) -> None:
    for event in events:
        outbox.put(event)


_default: dict[tuple, Reconciler] = {}


async def reconcile_once(
    *,
    settings: Settings | None = None,
    outbox: Outbox | None = None,
    token: str | None = None,
    since: datetime | None = None,
    grace: timedelta | None = None,
) -> ReconcileResult:
    """Poll Airflow once and emit missing state events; later calls continue where this one ended."""
    settings = settings or get_settings()
    key = (settings.airflow_api_url, settings.events_stream, settings.redis_url, str(settings.state_dir), token)
    reconciler = _default.get(key)
    if reconciler is None:
        reconciler = _default[key] = Reconciler(settings=settings, outbox=outbox, token=token)
    if outbox is not None:
        reconciler.outbox = outbox
    if grace is not None:
        reconciler.grace = grace
    return await reconciler.run_once(since=since)


def reconcile_once_sync(**kwargs: Any) -> ReconcileResult:
    """:func:`reconcile_once` for synchronous callers (CLI, tests, cron)."""
    return asyncio.run(reconcile_once(**kwargs))


#: A reconciler lease lasts this many polls without renewal: when its holder dies, another
#: instance takes over after at most that long.
LEASE_POLLS = 3
#: ... but never less than this (seconds): a poll may take a while when Airflow is slow.
LEASE_MIN_SECONDS = 5.0
#: How long the shared "last poll ended here" mark is kept (seconds).
SINCE_TTL_SECONDS = 7 * 24 * 3600

_RENEW_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ReconcilerLease:
    """Decides whether this instance runs the reconciler: only the holder of this lease does.

    Every sidecar instance starts :func:`run_reconciler`; without a lease each
    would poll Airflow and put every missing state once per instance, and a
    newly started one would re-report its whole lookback window.  With Redis
    (several instances), the lease is a key set only if absent, with a TTL of
    :data:`LEASE_POLLS` polls, renewed by its holder before each poll; when
    the holder dies the key expires and the next instance to ask takes over.
    The holder also records where its last poll ended, and a new holder
    continues from there instead of re-reporting its lookback window.
    Without Redis (the embedded setup: one machine) the lease is an exclusive
    lock on a file under ``state_dir``, which the OS releases when the
    holding process ends.
    """

    def __init__(self, settings: Settings, ttl: float, owner: str | None = None):
        import os
        import socket
        import uuid

        self.settings = settings
        self.ttl = float(ttl)
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.key = f"{settings.events_stream}:reconciler:lease"
        self.since_key = f"{settings.events_stream}:reconciler:since"
        self.held = False
        self._redis = None
        self._fd: int | None = None

    def _client(self):
        if self._redis is None:
            import redis.asyncio as aioredis

            self._redis = aioredis.Redis.from_url(
                self.settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
            )
        return self._redis

    async def acquire(self) -> bool:
        """Take the lease or renew it; False while another instance holds it."""
        if self.settings.redis_url:
            try:
                self.held = bool(await self._client().eval(_RENEW_LEASE, 1, self.key, self.owner, int(self.ttl * 1000)))
            except Exception:
                self.held = False
                raise
            return self.held
        if self._fd is None:
            import fcntl
            import hashlib
            import os

            path = (
                self.settings.state_dir
                / "events"
                / ("reconciler-" + hashlib.sha256(self.settings.events_stream.encode()).hexdigest()[:12] + ".lock")
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self.held = False
                return False
            self._fd = fd
        self.held = True
        return True

    async def release(self) -> None:
        """Give the lease up now (a clean shutdown), so another instance need not wait for it to expire."""
        was_held, self.held = self.held, False
        if self.settings.redis_url:
            if self._redis is not None:
                try:
                    if was_held:
                        await self._redis.eval(_RELEASE_LEASE, 1, self.key, self.owner)
                finally:
                    await self._redis.aclose()
                    self._redis = None
        elif self._fd is not None:
            import os

            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    async def load_since(self) -> datetime | None:
        """Where the previous holder's last poll ended (None without Redis, or if unknown)."""
        if not self.settings.redis_url:
            return None
        value = await self._client().get(self.since_key)
        return _parse_dt(value.decode() if isinstance(value, bytes) else value)

    async def save_since(self, since: datetime | None) -> None:
        if since is not None and self.settings.redis_url:
            await self._client().set(self.since_key, since.isoformat(), ex=SINCE_TTL_SECONDS)

    def status(self) -> dict[str, Any]:
        return {"leader": self.held, "owner": self.owner, "lease": "redis" if self.settings.redis_url else "file"}


async def run_reconciler(
    stop: asyncio.Event,
    *,
    interval: float = 1.0,
    settings: Settings | None = None,
    lease: ReconcilerLease | None = None,
    **kwargs: Any,
) -> None:
    """Reconcile every ``interval`` seconds until ``stop`` is set, while this instance holds the lease.

    Errors are logged, never fatal.  ``lease`` defaults to a
    :class:`ReconcilerLease` for ``settings``; whoever calls this on several
    instances gets one reconciler among them.
    """
    reconciler = Reconciler(settings=settings, **kwargs)
    lease = lease or ReconcilerLease(reconciler.settings, ttl=max(LEASE_POLLS * interval, LEASE_MIN_SECONDS))
    leading = False
    failure: str | None = None
    try:
        while not stop.is_set():
            try:
                held = await lease.acquire()
            except Exception as exc:  # noqa: BLE001 - Redis down: nobody can prove they lead; skip the round
                log.warning("reconciler lease unavailable (%s); not polling this round", exc)
                held = False
            if held and not leading:
                log.info("this instance runs the reconciler now (lease %s)", lease.owner)
                try:
                    since = await lease.load_since()
                except Exception as exc:  # noqa: BLE001 - start from the lookback window instead
                    log.warning("reconciler: previous holder's progress unavailable (%s)", exc)
                    since = None
                if since is not None:
                    reconciler.since = max(since, datetime.now(UTC) - reconciler.lookback)
            elif leading and not held:
                log.info("another instance runs the reconciler now")
            leading = held
            if held:
                try:
                    result = await reconciler.run_once()
                    if result.emitted:
                        log.info("reconciler emitted %d event(s)", result.emitted)
                    await lease.save_since(result.next_since)
                    if failure is not None:
                        log.info("reconciler polls again (after: %s)", failure)
                    failure = None
                except Exception as exc:  # noqa: BLE001 - Airflow down is not fatal; try again next round
                    # Polling every second, an outage would log every second: say it once, and when it changes.
                    if str(exc) != failure:
                        log.warning("reconciler poll failed: %s (said again only when the error changes)", exc)
                    failure = str(exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
    finally:
        reconciler.close()
        try:
            await lease.release()
        except Exception as exc:  # noqa: BLE001 - the lease expires on its own
            log.warning("reconciler lease not released (%s); it expires by itself", exc)


def main(argv: list[str] | None = None) -> int:
    """``python -m include.events.reconcile [--interval SECONDS] [--lookback MINUTES]``: once, or every N seconds."""
    import argparse

    parser = argparse.ArgumentParser(description="Emit state events Airflow's listener hooks do not report.")
    parser.add_argument("--interval", type=float, default=0.0, help="repeat every N seconds (default: run once)")
    parser.add_argument("--lookback", type=float, default=60.0, help="first poll covers the last N minutes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    reconciler = Reconciler(lookback=timedelta(minutes=args.lookback))

    async def loop() -> None:
        while True:
            result = await reconciler.run_once()
            print(
                f"reconciled: {result.dag_runs_seen} dag runs, {result.task_instances_seen} task instances seen, "
                f"{result.emitted} events emitted",
                flush=True,
            )
            if args.interval <= 0:
                return
            await asyncio.sleep(args.interval)

    try:
        asyncio.run(loop())
    except ReconcileError as exc:
        print(f"reconcile failed: {exc}", flush=True)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
