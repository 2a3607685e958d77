"""Membership checks for joins, asked of the database in batches.

Why: every join checks membership in the database, never from a cache (a
removed member loses access at once).  When a deploy or a network blip drops
thousands of clients, they reconnect and join within seconds, and one query
(plus a worker-thread hop) per join is most of what a join costs.  Here joins
that arrive while a lookup is running wait for the next one, which answers
all of them in one statement (:func:`dashboard_server.db.roles_of`).

Still never cached: every join is answered by a query that started after the
join arrived.  A failed lookup fails every join it was answering, each of
which is told so (:meth:`dashboard_server.sockets.SocketHandlers._unavailable`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dashboard_server import db

#: Pairs answered by one statement at most (bounds the statement's size and the wait behind it).
MAX_BATCH = 500

Pair = tuple[str, str]  # (username, project slug)


class MembershipChecks:
    """``await role_of(username, project)`` with the lookups of concurrent callers coalesced."""

    def __init__(self, lookup: Callable[[list[Pair]], dict[Pair, str]] = db.roles_of, max_batch: int = MAX_BATCH):
        self._lookup = lookup
        self.max_batch = max_batch
        self._waiting: dict[Pair, list[asyncio.Future]] = {}
        self._worker: asyncio.Task | None = None
        self.queries = 0  # statements run (for tests and metrics)

    async def role_of(self, username: str, project: str) -> str | None:
        """The caller's role in ``project``, None if not a member; raises what the database raised."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((username, project), []).append(future)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._answer_waiting())
        return await future

    async def _answer_waiting(self) -> None:
        while self._waiting:
            batch: dict[Pair, list[asyncio.Future]] = {}
            for pair in list(self._waiting)[: self.max_batch]:
                batch[pair] = self._waiting.pop(pair)
            self.queries += 1
            try:
                roles = await asyncio.to_thread(self._lookup, list(batch))
            except Exception as exc:  # noqa: BLE001 - every waiting join is told, none hangs
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for pair, futures in batch.items():
                role = roles.get(pair)
                for future in futures:
                    if not future.done():
                        future.set_result(role)
