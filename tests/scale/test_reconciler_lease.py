"""One reconciler across sidecar instances: the lease that decides which one polls Airflow."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
import redis

from include.events.reconcile import ReconcilerLease
from include.settings import load_settings

pytestmark = pytest.mark.anyio


async def test_redis_lease_has_one_holder_expires_when_it_dies_and_hands_progress_on(redis_url, tmp_path):
    settings = load_settings(redis_url=redis_url, events_stream=f"autopr-test:lease:{uuid.uuid4().hex[:10]}",
                             state_dir=tmp_path)  # fmt: skip
    first, second = ReconcilerLease(settings, ttl=0.5), ReconcilerLease(settings, ttl=0.5)
    try:
        assert await first.acquire()
        assert not await second.acquire()
        assert await first.acquire()  # renewing
        ended = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        await first.save_since(ended)
        # The holder dies without releasing: the other instance takes over once the lease expires.
        first._redis = None
        await asyncio.sleep(0.7)
        assert await second.acquire()
        assert await second.load_since() == ended  # continues where the dead holder's last poll ended
        assert not await first.acquire()
        await second.release()  # a clean shutdown hands over at once
        assert await first.acquire()
        assert first.status()["leader"] and not second.status()["leader"]
    finally:
        await first.release()
        await second.release()
        redis.Redis.from_url(redis_url).delete(first.key, first.since_key)


async def test_without_redis_a_lock_file_allows_one_holder(tmp_path):
    settings = load_settings(redis_url=None, state_dir=tmp_path)
    first, second = ReconcilerLease(settings, ttl=5), ReconcilerLease(settings, ttl=5)
    try:
        assert await first.acquire()
        assert not await second.acquire()
        await first.release()
        assert await second.acquire()
    finally:
        await first.release()
        await second.release()
