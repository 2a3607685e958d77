"""The relay hands an event on at once: no waiting for a read's block timeout, nor behind other threads' work.

The dashboard sidecar runs its membership checks, replays and catch-up sweep
in asyncio's default executor; a reconnect storm fills it.  The relay's own
blocking steps (outbox read, lock + persist, release + ack) must not queue
behind that work, or every live event waits for the storm to pass.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from include.events.schema import StateEvent
from tests.events.conftest import SESSION_PREFIX

pytestmark = pytest.mark.timeout(120)

BUSY_S = 4.0  # how long the default executor's only worker is kept busy
BLOCK_MS = 3000  # a long outbox block: the event must not wait for it to time out


def _event(task_id: str) -> StateEvent:
    return StateEvent(
        event_type="task_instance",
        project="alpha",
        dag_id="dag_latency",
        run_id=f"run_{uuid.uuid4().hex[:6]}",
        task_id=task_id,
        try_number=1,
        state="success",
        occurred_at=datetime.now(UTC),
    )


@pytest.fixture(params=["embedded", "redis"])
def relay_settings(request, event_settings, tmp_path):
    if request.param == "embedded":
        from include.db.migrate import upgrade

        db_url = f"sqlite:///{tmp_path / 'app.db'}"
        upgrade(db_url)
        return event_settings(database_url=db_url)
    redis_url = request.getfixturevalue("redis_url")
    request.getfixturevalue("redis_cleanup")
    request.getfixturevalue("db")  # clean PostgreSQL app database
    return event_settings(redis_url, events_stream=f"{SESSION_PREFIX}:{uuid.uuid4().hex[:8]}")


def test_relay_publishes_at_once_while_the_default_executor_is_busy(relay_settings):
    from include.events.outbox import get_outbox
    from include.events.relay import run_relay

    outbox = get_outbox(relay_settings)
    published: dict[str, float] = {}
    stages: list[tuple[str, float]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        stop = asyncio.Event()

        async def publish(wire: dict) -> None:
            published[wire["task_id"]] = time.monotonic()

        relay = asyncio.create_task(
            run_relay(
                publish,
                settings=relay_settings,
                stop=stop,
                block_ms=BLOCK_MS,
                observe=lambda stage, seconds: stages.append((stage, seconds)),
            )
        )
        # Warm up (first connections, consumer group), then occupy the default executor.
        outbox.put(_event("warmup"))
        deadline = time.monotonic() + 30
        while "warmup" not in published and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert "warmup" in published, "relay did not start"
        stages.clear()
        busy = loop.run_in_executor(None, time.sleep, BUSY_S)  # like a storm of joins and replays
        await asyncio.sleep(0.2)  # the relay is now blocked in its next read
        sent: dict[str, float] = {}
        for name in ("live-1", "live-2"):
            sent[name] = time.monotonic()
            outbox.put(_event(name))
            while name not in published and time.monotonic() < sent[name] + BUSY_S + BLOCK_MS / 1000:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.1)
        busy_throughout = not busy.done()
        stop.set()
        await asyncio.wait_for(relay, BLOCK_MS / 1000 + 10)
        await busy
        for name, at in sent.items():
            assert name in published, f"{name} was never published"
            waited = published[name] - at
            assert waited < 0.5, f"{name} published {waited:.3f}s after the hand-off"
        assert busy_throughout, "the default executor was free during the measurement; the test proves nothing"

    asyncio.run(main())
    assert outbox.backlog() == 0
    by_stage: dict[str, list[float]] = {}
    for stage, seconds in stages:
        by_stage.setdefault(stage, []).append(seconds)
    assert set(by_stage) == {"outbox", "persist", "publish"}
    assert all(len(values) == 2 for values in by_stage.values())
    assert all(0 <= s < 0.5 for values in by_stage.values() for s in values)
    assert all(p >= q for p, q in zip(by_stage["publish"], by_stage["persist"], strict=True))
