"""Keep CPython's cyclic garbage collector from stalling live delivery.

Why: every event goes through this one process's event loop, and a full
(generation 2) collection stops it while it walks *every* tracked object.
The sidecar tracks the objects of its imports and app plus a few hundred per
connection (engine.io socket, its queue, writer and ping tasks, their
coroutines and timers, the uvicorn protocol ...), so with many clients a full
collection takes long enough to be the whole tail of delivery latency, and
ping traffic keeps promoting short-lived objects so it keeps coming back
(``bench/bench_dashboard.py`` load (a) shows it; ``dashboard_server/README.md``
records the runs).

What: objects that have already lived through a collection are moved to the
permanent generation (``gc.freeze()``), which no automatic collection walks.

* At startup: one full collection, then freeze (modules, classes, settings,
  SQLAlchemy and pydantic metadata).
* Every ``interval`` seconds (``dashboard_gc_freeze_interval``):
  ``gc.collect()`` -- which now walks only what appeared since the last tick --
  then freeze the survivors (new connections' objects), so they are not walked
  again either.  Every surviving object is walked about once either way; a
  short interval splits that work into small pauses instead of one long one,
  without growing the heap (frozen objects that die later are freed as usual).

Frozen objects are still freed by reference counting as usual; only a
*cycle* that becomes garbage after its objects were frozen is not reclaimed
by the ticks.  To bound that, when the heap (``sys.getallocatedblocks()``)
grows beyond ``growth`` times its size after the last full pass, the policy
unfreezes everything and does one full collection (a pause proportional to
the heap, as before, but only after the heap doubled: rare, and amortised).

Pauses and event-loop lag are exported as metrics (``dashboard_gc_pause_seconds``,
``dashboard_loop_lag_seconds``) so a stall can be told from slow I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import time

from dashboard_server import metrics
from include.gcfreeze import full_freeze

log = logging.getLogger(__name__)

#: Loop-lag probe period: short enough to see a 20 ms stall, long enough to cost nothing.
LAG_PROBE_S = 0.05


class GcPolicy:
    """Freeze long-lived objects so automatic collections only walk young ones."""

    def __init__(self, interval: float, growth: float = 2.0):
        self.interval = interval
        self.growth = growth
        self.blocks_at_full = 0
        self.full_passes = 0
        self.ticks = 0
        self.last_full_pass_at: float | None = None
        self._started: float | None = None

    # -- pause accounting (gc.callbacks) --------------------------------------
    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            metrics.GC_PAUSE.labels(str(info.get("generation", "?"))).observe(time.perf_counter() - self._started)
            self._started = None

    def install(self) -> None:
        """Account pauses; if the policy is on, collect once and freeze what the startup left."""
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)
        if self.interval > 0:
            self.full_pass()

    def uninstall(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)

    def status(self) -> dict:
        return {
            "freeze_interval": self.interval,
            "ticks": self.ticks,
            "full_passes": self.full_passes,
            "last_full_pass_at": self.last_full_pass_at,
            "allocated_blocks": sys.getallocatedblocks(),
            "allocated_blocks_at_full_pass": self.blocks_at_full,
        }

    def full_pass(self) -> None:
        """Unfreeze, collect everything, freeze the survivors: the only heap-sized pause."""
        full_freeze()
        self.blocks_at_full = sys.getallocatedblocks()
        self.full_passes += 1
        self.last_full_pass_at = time.time()

    def tick(self) -> None:
        """Collect what appeared since the last tick and freeze the survivors (about a millisecond)."""
        self.ticks += 1
        gc.collect()  # walks only unfrozen objects
        gc.freeze()
        # sys.getallocatedblocks() is O(arenas), unlike gc.get_freeze_count(), which walks
        # every frozen object (35-60 ms with 1,000 clients: a stall of its own).
        if sys.getallocatedblocks() > self.growth * max(self.blocks_at_full, 1):
            log.info("gc policy: heap grew past %.1fx the last full pass; full collection", self.growth)
            self.full_pass()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
            if not stop.is_set():
                self.tick()


async def watch_loop_lag(stop: asyncio.Event, period: float = LAG_PROBE_S) -> None:
    """Observe how late the event loop wakes a sleeper: the stall every event on the loop also sees."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        start = loop.time()
        await asyncio.sleep(period)
        metrics.LOOP_LAG.observe(max(0.0, loop.time() - start - period))
