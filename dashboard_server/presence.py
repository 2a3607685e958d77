"""Who is watching a project right now.

With Redis every instance records its watchers in one sorted set per project
(member ``username|instance:sid``, score = last heartbeat), so the list is the
same whichever instance a browser is connected to; an instance that dies
stops heartbeating and its entries age out after ``TTL`` seconds.  Without
Redis the list is this process's own room index.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

log = logging.getLogger(__name__)

TTL = 45.0
HEARTBEAT = 15.0


class Presence:
    def __init__(self, fanout, redis_client=None, prefix: str = "autopr:presence:"):
        self.fanout = fanout
        self.redis = redis_client
        self.prefix = prefix
        self.instance = uuid.uuid4().hex[:12]

    def _member(self, username: str, sid: str) -> str:
        return f"{username}|{self.instance}:{sid}"

    async def joined(self, username: str, sid: str, project: str) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.zadd(self.prefix + project, {self._member(username, sid): time.time()})
        except Exception as exc:  # noqa: BLE001 - presence is best effort
            log.warning("presence: Redis unavailable (%s)", exc)

    async def left(self, username: str, sid: str, project: str) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.zrem(self.prefix + project, self._member(username, sid))
        except Exception as exc:  # noqa: BLE001
            log.warning("presence: Redis unavailable (%s)", exc)

    async def watchers(self, project: str) -> list[str]:
        local = self.fanout.watchers(project)
        if self.redis is None:
            return local
        try:
            members = await self.redis.zrangebyscore(self.prefix + project, time.time() - TTL, "+inf")
        except Exception as exc:  # noqa: BLE001 - fall back to what this instance knows
            log.warning("presence: Redis unavailable (%s)", exc)
            return local
        names = {m.decode().rsplit("|", 1)[0] if isinstance(m, bytes) else m.rsplit("|", 1)[0] for m in members}
        return sorted(names | set(local))

    async def heartbeat(self, stop: asyncio.Event) -> None:
        """Refresh this instance's entries and drop stale ones, until ``stop``."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), HEARTBEAT)
            except TimeoutError:
                pass
            if self.redis is None or stop.is_set():
                continue
            now = time.time()
            try:
                for project, room in list(self.fanout.rooms.items()):
                    key = self.prefix + project
                    entries = {self._member(c.username, c.sid): now for c in room.values()}
                    if entries:
                        await self.redis.zadd(key, entries)
                    await self.redis.zremrangebyscore(key, "-inf", now - TTL)
            except Exception as exc:  # noqa: BLE001
                log.warning("presence heartbeat: Redis unavailable (%s)", exc)

    async def clear(self) -> None:
        """Remove this instance's entries (clean shutdown)."""
        if self.redis is None:
            return
        try:
            for project, room in list(self.fanout.rooms.items()):
                members = [self._member(c.username, c.sid) for c in room.values()]
                if members:
                    await self.redis.zrem(self.prefix + project, *members)
        except Exception as exc:  # noqa: BLE001
            log.warning("presence: Redis unavailable on shutdown (%s)", exc)
