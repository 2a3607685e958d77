"""Fixtures of the scale tests (several real processes; see tests/dashboard/conftest.py for sidecars)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"

