"""Token-bucket rate limits: connects per client IP, events per connection.

With Redis configured the buckets live in Redis (one Lua script, atomic), so
every sidecar instance behind a load balancer draws from the same bucket; with
nothing configured they live in this process.  If Redis is unreachable the
limiter fails open (and counts it): refusing every user because the limiter's
store is down would turn a Redis blip into a dashboard outage.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

# KEYS[1] bucket key; ARGV: rate per second, burst, now (seconds, float), cost.
_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= cost then tokens = tokens - cost; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return allowed
"""


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class MemoryBuckets:
    """In-process token buckets (the embedded default)."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, _Bucket] = {}

    async def allow(self, key: str, cost: float = 1.0) -> bool:
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 100_000:  # keep memory bounded under key churn
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return True
        return False

    def forget(self, key: str) -> None:
        self._buckets.pop(key, None)


class RedisBuckets:
    """Token buckets shared by every sidecar instance through Redis."""

    def __init__(self, redis_client, rate: float, burst: int, prefix: str):
        self.rate, self.burst, self.prefix = rate, burst, prefix
        self._redis = redis_client
        self._script = redis_client.register_script(_LUA)
        self.failures = 0

    async def allow(self, key: str, cost: float = 1.0) -> bool:
        try:
            result = await self._script(keys=[self.prefix + key], args=[self.rate, self.burst, time.time(), cost])
        except Exception as exc:  # noqa: BLE001 - any Redis trouble: fail open, loudly
            self.failures += 1
            log.warning("rate limiter: Redis unavailable (%s); allowing", exc)
            return True
        return bool(result)

    def forget(self, key: str) -> None:
        """Redis keys expire on their own."""


def make_buckets(redis_client, rate: float, burst: int, prefix: str):
    if redis_client is None:
        return MemoryBuckets(rate, burst)
    return RedisBuckets(redis_client, rate, burst, prefix)
