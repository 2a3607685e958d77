"""Token buckets in real Redis are shared by every sidecar instance; in memory they are per process."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from dashboard_server.ratelimit import MemoryBuckets, RedisBuckets

pytestmark = pytest.mark.anyio


async def test_redis_buckets_are_shared_between_instances_and_refill(redis_url):
    client = aioredis.Redis.from_url(redis_url)
    prefix = f"autopr-test:rl:{uuid.uuid4().hex}:"
    try:
        first = RedisBuckets(client, rate=10.0, burst=5, prefix=prefix)
        second = RedisBuckets(client, rate=10.0, burst=5, prefix=prefix)  # another sidecar instance
        results = [await (first if i % 2 else second).allow("10.0.0.1") for i in range(8)]
        assert results == [True] * 5 + [False] * 3
        assert await first.allow("10.0.0.2")  # other keys have their own bucket
        await asyncio.sleep(0.35)  # 10 tokens/s: ~3 back
        assert [await second.allow("10.0.0.1") for _ in range(4)].count(True) in (3, 4)
    finally:
        await client.aclose()


async def test_redis_down_fails_open_and_counts():
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    buckets = RedisBuckets(client, rate=1.0, burst=1, prefix="x:")
    assert await buckets.allow("a") and await buckets.allow("a")
    assert buckets.failures == 2
    await client.aclose()


async def test_memory_buckets():
    buckets = MemoryBuckets(rate=100.0, burst=2)
    assert [await buckets.allow("k") for _ in range(3)] == [True, True, False]
    await asyncio.sleep(0.02)
    assert await buckets.allow("k")
