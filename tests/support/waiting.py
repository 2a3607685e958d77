"""Polling until something holds: the one helper every test that waits on a real process uses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout: float, what: str = "condition", every: float = 1.0) -> Any:
    """The first truthy value of ``predicate``; AssertionError naming ``what`` when ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(every)


async def eventually(predicate: Callable[[], Any], timeout: float, what: str = "condition",
                     every: float = 0.2) -> Any:
    """``wait_for`` for async tests: sleeps on the event loop so the processes under test keep running."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f} s")
        await asyncio.sleep(every)
