"""Who is watching a project right now, told to the room as coalesced deltas.

Why deltas: a room's watcher list grows with the room, so sending it whole
with every join ack and every presence message costs O(room size) per join,
and O(n^2) bytes while a room fills (every client of a deploy reconnecting at
once).  Here a join or leave only moves a per-room counter (O(1), no Redis
round trip, no list built); at most one ``presence`` message per room goes out
every ``dashboard_presence_interval`` seconds (longer in rooms above
``WRITES_PER_INTERVAL`` connections, as each message is one write per member),
carrying the count and the names that joined and left since the previous one.  Small rooms (at most
``dashboard_presence_list_max`` watchers) get the whole list too; larger ones a
bounded sample in the join ack and at most that many names per delta, with
``more_joined``/``more_left`` saying how many more changed unnamed (after
unnamed leavers the page can only trust the count).

Every message has a per-room ``seq`` (per instance: a client only hears its own
instance); the join ack says which ``seq`` it reflects, so the page applies
only later deltas.

With Redis every instance records its connections in one sorted set per
project (member ``username|instance:sid``, score = last heartbeat), written in
one pipeline per interval, and reads the other instances' names once per
interval in which something changed locally, and at every heartbeat (so
another instance's joins are seen within ``HEARTBEAT`` seconds even in a quiet
room).  An instance that dies stops heartbeating and its entries age out after
``TTL`` seconds.  Without Redis the room is this process's own connections.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
import uuid
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

TTL = 45.0
HEARTBEAT = 15.0
PRESENCE_EVENT = "presence"
#: A room with more connections here than this hears of presence proportionally less often, so that
#: presence costs at most about this many frame writes per interval and room, however large it grows
#: (one message to every member is one write each: in a room of n, n writes per message).
WRITES_PER_INTERVAL = 1000


@dataclass(eq=False)
class Room:
    """One project's watchers as this instance knows them."""

    local: dict[str, int] = field(default_factory=dict)  # username -> this instance's connections
    remote: set[str] = field(default_factory=set)  # usernames other instances have (Redis), at the last read
    count: int = 0  # distinct usernames: len(local | remote), kept up to date per join and leave
    published: set[str] | None = None  # the names as of the last presence message (None: none sent)
    sample: list[str] = field(default_factory=list)  # the first names of ``published``, for large rooms' acks
    seq: int = 0  # number of the last presence message
    due: bool = False  # a flush is scheduled


class Presence:
    def __init__(
        self,
        fanout,
        redis_client=None,
        prefix: str = "autopr:presence:",
        *,
        interval: float = 0.5,
        list_max: int = 50,
    ):
        self.fanout = fanout
        self.redis = redis_client
        self.prefix = prefix
        self.interval = interval
        self.list_max = list_max
        self.instance = uuid.uuid4().hex[:12]
        self.rooms: dict[str, Room] = {}
        # project -> (members to add with their score, members to remove), written at the next flush
        self._writes: dict[str, tuple[dict[str, float], set[str]]] = {}
        self._tasks: set[asyncio.Task] = set()
        #: callable(project, event, body) -> recipients: sends one message to this instance's room
        self.send = None
        self.stats = {"messages": 0, "flushes": 0}

    def _member(self, username: str, sid: str) -> str:
        return f"{username}|{self.instance}:{sid}"

    # -- joins and leaves: O(1), no I/O -----------------------------------------

    def joined(self, username: str, sid: str, project: str) -> None:
        room = self.rooms.get(project)
        if room is None:
            room = self.rooms[project] = Room()
        n = room.local.get(username, 0)
        room.local[username] = n + 1
        if n == 0 and username not in room.remote:
            room.count += 1
        if self.redis is not None:
            adds, removes = self._writes.setdefault(project, ({}, set()))
            member = self._member(username, sid)
            removes.discard(member)
            adds[member] = time.time()
        self._schedule(project, room)

    def left(self, username: str, sid: str, project: str) -> None:
        room = self.rooms.get(project)
        n = room.local.get(username, 0) if room is not None else 0
        if n == 0:
            return
        if n == 1:
            del room.local[username]
            if username not in room.remote:
                room.count -= 1
        else:
            room.local[username] = n - 1
        if self.redis is not None:
            adds, removes = self._writes.setdefault(project, ({}, set()))
            member = self._member(username, sid)
            adds.pop(member, None)
            removes.add(member)
        self._schedule(project, room)

    def snapshot(self, project: str) -> dict:
        """What a join ack says about presence: ``count``, ``seq`` and the names, bounded.

        At most ``list_max`` watchers: ``watchers``, all of them, as of now.  More:
        ``sample``, ``list_max`` of the names: the first ones as of message ``seq``,
        topped up with others present when the room grew past that message.
        """
        room = self.rooms.get(project)
        if room is None:
            return {"count": 0, "seq": 0, "watchers": []}
        if room.count <= self.list_max:
            return {"count": room.count, "seq": room.seq, "watchers": sorted(room.local.keys() | room.remote)}
        sample = room.sample
        if len(sample) < self.list_max:
            # The room outgrew the last message's sample (many joins before the first coalesced message):
            # top it up with any names here, taking at most list_max of them -- never a pass over the room.
            have = set(sample)
            extra = (name for name in itertools.chain(room.local, room.remote) if name not in have)
            sample = sample + list(itertools.islice(extra, self.list_max - len(sample)))
        return {"count": room.count, "seq": room.seq, "sample": sample}

    def watchers(self, project: str) -> list[str]:
        """Every name watching ``project`` as this instance knows it now (O(room): not for the join path)."""
        room = self.rooms.get(project)
        return sorted(room.local.keys() | room.remote) if room is not None else []

    # -- the coalesced message ---------------------------------------------------

    def _schedule(self, project: str, room: Room) -> None:
        if room.due:
            return
        room.due = True

        delay = self.interval * max(1.0, len(self.fanout.rooms.get(project, ())) / WRITES_PER_INTERVAL)

        async def later() -> None:
            await asyncio.sleep(delay)
            await self.flush(project)

        task = asyncio.ensure_future(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self, project: str) -> dict | None:
        """Write this instance's pending changes, then tell the room what changed; returns the message sent."""
        room = self.rooms.get(project)
        if room is None:
            return None
        room.due = False
        self.stats["flushes"] += 1
        if self.redis is not None:
            await self._write(project)
            remote = await self._read_remote(project)
            if remote is not None:
                room.remote = remote
                room.count = len(room.local.keys() | remote)
        current = room.local.keys() | room.remote
        before = room.published if room.published is not None else set()
        joined, left = current - before, before - current
        body = None
        if joined or left or room.published is None:
            room.published = current
            room.seq += 1
            cap = self.list_max
            room.sample = heapq.nsmallest(cap, current)
            body = {
                "project": project,
                "seq": room.seq,
                "count": len(current),
                "joined": heapq.nsmallest(cap, joined),
                "left": heapq.nsmallest(cap, left),
            }
            if len(joined) > cap:
                body["more_joined"] = len(joined) - cap
            if len(left) > cap:
                body["more_left"] = len(left) - cap  # unnamed leavers: a client can trust only the count
            if len(current) <= cap:
                body["watchers"] = room.sample
            if self.send is not None:
                self.send(project, PRESENCE_EVENT, body)
            self.stats["messages"] += 1
        if not room.local and not room.due and project not in self._writes:
            self.rooms.pop(project, None)  # nobody here to tell; a join starts the room again
        return body

    async def _write(self, project: str) -> None:
        adds, removes = self._writes.pop(project, ({}, set()))
        if not adds and not removes:
            return
        key = self.prefix + project
        try:
            pipe = self.redis.pipeline(transaction=False)
            if removes:
                pipe.zrem(key, *removes)
            if adds:
                pipe.zadd(key, adds)
            await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - best effort: the heartbeat rewrites, the TTL removes
            log.warning("presence: Redis unavailable (%s)", exc)

    async def _read_remote(self, project: str) -> set[str] | None:
        """The names other instances hold in ``project``; None if Redis cannot say (keep the last read)."""
        try:
            members = await self.redis.zrangebyscore(self.prefix + project, time.time() - TTL, "+inf")
        except Exception as exc:  # noqa: BLE001 - fall back to what this instance knows
            log.warning("presence: Redis unavailable (%s)", exc)
            return None
        names = set()
        own = self.instance + ":"
        for m in members:
            text = m.decode() if isinstance(m, bytes) else m
            name, _, where = text.rpartition("|")
            if not where.startswith(own):
                names.add(name)
        return names

    async def heartbeat(self, stop: asyncio.Event) -> None:
        """Refresh this instance's entries, drop stale ones and pick up other instances' changes, until ``stop``."""
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
            for project in list(self.rooms):
                await self.flush(project)

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
