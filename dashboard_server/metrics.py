"""Prometheus metrics of the sidecar (served as text at ``GET /metrics``).

A private registry keeps the output to what the dashboard does; the latency
histogram's buckets include the delivery targets of bench/bench_dashboard.py,
so a scrape says directly whether they are met.  Prometheus scrapes
``/metrics`` anonymously, so no label or value here may carry a host, URL or
error text; why something fails is only in an authenticated ``/healthz``.

This module depends on nothing else of the sidecar: the fan-out and the GC
policy record into it, and the app factory hands it the running
:class:`~dashboard_server.sidecar.Sidecar` (:func:`watch`) for the numbers
read at scrape time.
"""

from __future__ import annotations

from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

REGISTRY = CollectorRegistry()

CONNECTIONS = Gauge("dashboard_connections", "Socket.IO connections currently open", registry=REGISTRY)
CONNECTS = Counter("dashboard_connects", "Connection attempts by outcome", ["outcome"], registry=REGISTRY)
EVENTS_IN = Counter(
    "dashboard_events_in", "State events received for fan-out, by source", ["source"], registry=REGISTRY
)
EVENTS_OUT = Counter("dashboard_events_out", "Event deliveries to clients, by kind", ["kind"], registry=REGISTRY)
CLIENT_EVENTS = Counter("dashboard_client_events", "Events sent by clients, by outcome", ["outcome"], registry=REGISTRY)
DELIVERY_LATENCY = Histogram(
    "dashboard_delivery_latency_seconds",
    "From the event's occurred_at to the moment its frame is queued for the room's clients",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
RELAY_STAGE = Histogram(
    "dashboard_relay_stage_seconds",
    "Per event, time spent before each relay step ends: outbox (occurred_at -> read by the relay), "
    "persist (read -> committed), publish (read -> handed to the fan-out)",
    ["stage"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)
GC_PAUSE = Histogram(
    "dashboard_gc_pause_seconds",
    "Cyclic garbage collector pauses (the event loop is stopped meanwhile), by generation",
    ["generation"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
    registry=REGISTRY,
)
LOOP_LAG = Histogram(
    "dashboard_loop_lag_seconds",
    "How late the event loop woke a periodic probe: what any event on the loop waited extra",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
    registry=REGISTRY,
)
DROPPED_SLOW = Counter(
    "dashboard_slow_client_disconnects",
    "Clients disconnected because their send queue overflowed (they reconnect and replay)",
    registry=REGISTRY,
)


def render() -> bytes:
    return generate_latest(REGISTRY)


#: Frames handed to clients, per path (see ``dashboard_server.fanout.Client.put``).  Plain ints:
#: a labelled Prometheus counter per recipient would cost more than the write itself.
FRAME_PATHS = {"direct": 0, "queued": 0}

FRAMES_DIRECT = Gauge(
    "dashboard_frames_direct_total", "Frames written straight to the websocket transport", registry=REGISTRY
)
FRAMES_DIRECT.set_function(lambda: FRAME_PATHS["direct"])
FRAMES_QUEUED = Gauge("dashboard_frames_queued_total", "Frames queued to the engine.io writer task", registry=REGISTRY)
FRAMES_QUEUED.set_function(lambda: FRAME_PATHS["queued"])


class Watched(Protocol):
    """What the collector reads of a sidecar (``dashboard_server.sidecar.Sidecar`` has it)."""

    relay_stats: Any  # include.events.relay.RelayStats, or None before the relay starts

    def health_reasons(self) -> dict[str, str]: ...


class SidecarCollector:
    """The relay's counters and the failing components of one sidecar, read when Prometheus scrapes.

    The relay already counts what it does (``include.events.relay.RelayStats``);
    reading those numbers at scrape time costs the event path nothing.  Only
    numbers and component names are exported: ``/metrics`` is scraped
    anonymously, and the relay's last error names the database host and port.
    """

    STEPS = ("read", "persisted", "duplicates", "published", "acked")

    def __init__(self, sidecar: Watched):
        self.sidecar = sidecar

    def collect(self):
        stats = self.sidecar.relay_stats
        relayed = CounterMetricFamily(
            "dashboard_relay_events",
            "Events the relay moved from the outbox, by step: read, persisted (new in the database), duplicates"
            " (already stored), published (handed to the fan-out: events relayed), acked",
            labels=["step"],
        )
        published = CounterMetricFamily(
            "dashboard_events_relayed", "Events this sidecar's relay persisted and handed to the fan-out"
        )
        errors = CounterMetricFamily("dashboard_relay_errors", "Relay steps that failed (each is retried)")
        failing = GaugeMetricFamily(
            "dashboard_failing", "1 while a component of this sidecar fails (database, relay, task:<name>)",
            labels=["component"],
        )
        if stats is not None:
            for step in self.STEPS:
                relayed.add_metric([step], getattr(stats, step))
            published.add_metric([], stats.published)
            errors.add_metric([], stats.errors)
        for component in self.sidecar.health_reasons():
            failing.add_metric([component], 1)
        yield published
        yield relayed
        yield errors
        yield failing

    def describe(self):
        return []


_collector: SidecarCollector | None = None


def watch(sidecar: Watched) -> None:
    """Export ``sidecar``'s relay counters and failing components (replacing an app built before it)."""
    global _collector
    if _collector is not None:
        REGISTRY.unregister(_collector)
    _collector = SidecarCollector(sidecar)
    REGISTRY.register(_collector)
