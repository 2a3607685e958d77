"""The sidecar's GC policy: long-lived objects leave the collector's walks; leaked cycles are still reclaimed.

In-process on purpose (the policy acts on the interpreter it runs in); every
test unfreezes and removes its callback again so the rest of the session runs
with the default collector.
"""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from dashboard_server import metrics
from dashboard_server.gcpolicy import GcPolicy, watch_loop_lag


class Node:
    """A tracked object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def _tracked(obj: object) -> bool:
    """Whether an automatic collection would walk ``obj`` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


@pytest.fixture()
def policy():
    gc.unfreeze()
    p = GcPolicy(interval=2.0)
    yield p
    p.uninstall()
    gc.unfreeze()
    gc.collect()


def test_install_and_tick_take_survivors_out_of_every_collection(policy):
    before = [Node() for _ in range(3)]
    policy.install()
    assert gc.get_freeze_count() > 0
    assert not _tracked(before[0]), "objects alive at startup must be frozen"
    later = [Node() for _ in range(3)]  # e.g. a new client's connection objects
    assert _tracked(later[0])
    policy.tick()
    assert not _tracked(later[0]), "a tick freezes what survived since the last one"
    assert policy.ticks == 1 and policy.full_passes == 1


def test_tick_collects_young_garbage_cycles(policy):
    policy.install()
    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    del a, b
    policy.tick()
    assert ref() is None, "a cycle that died before being frozen is collected by the next tick"


def test_heap_growth_triggers_a_full_pass_that_reclaims_frozen_cycles(policy):
    policy.install()
    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    policy.tick()  # the cycle is alive: frozen with the other survivors
    del a, b
    policy.tick()
    assert ref() is not None, "frozen garbage cycles wait for a full pass (this is what the guard bounds)"
    policy.blocks_at_full = 1  # as if the heap had grown past `growth` times its size at the last full pass
    policy.tick()
    assert policy.full_passes == 2
    assert ref() is None


def _sample(name: str, labels: dict | None = None) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_interval_zero_keeps_the_default_collector_but_counts_pauses(policy):
    off = GcPolicy(interval=0)
    try:
        off.install()
        assert gc.get_freeze_count() == 0
        before = _sample("dashboard_gc_pause_seconds_count", {"generation": "2"})
        gc.collect()
        assert _sample("dashboard_gc_pause_seconds_count", {"generation": "2"}) == before + 1
    finally:
        off.uninstall()


def test_loop_lag_probe_sees_a_blocked_loop():
    import time

    def over_50ms() -> float:
        return _sample("dashboard_loop_lag_seconds_count") - _sample(
            "dashboard_loop_lag_seconds_bucket", {"le": "0.05"}
        )

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(watch_loop_lag(stop, period=0.01))
        await asyncio.sleep(0.05)
        before = over_50ms()
        time.sleep(0.12)  # noqa: ASYNC251 - the stall under test, as a full collection would cause
        await asyncio.sleep(0.05)
        stop.set()
        await task
        assert over_50ms() == before + 1

    asyncio.run(main())


def test_the_serving_cache_freezes_the_same_way(policy):
    """ml.serving's freeze after a model load is the sidecar's full pass (include.gcfreeze.full_freeze)."""
    from ml.serving import _freeze_heap

    policy.install()
    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    policy.tick()  # frozen while alive
    del a, b
    later = Node()
    _freeze_heap()
    assert ref() is None, "the full freeze unfreezes and collects first, so frozen garbage cycles go"
    assert not _tracked(later), "and freezes what survived"
