"""Pydantic models for everything a dashboard client sends.

Every client-sent payload is validated before a handler looks at it; unknown
keys are refused (``extra="forbid"``) so a typo in a client surfaces as an
``error`` event naming the field instead of being silently ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# Project slugs: the pattern the platform API creates them with (no Airflow import behind it).
from include.workflows.model import SLUG_PATTERN


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ConnectAuth(_Strict):
    """The ``auth`` object of the Socket.IO handshake."""

    token: str = Field(min_length=1, max_length=8192, description="JWT issued by Airflow's POST /auth/token.")
    last_event_id: int | None = Field(
        default=None,
        ge=0,
        description="Highest event id the client has seen; events after it are replayed on join. "
        "Omit for live events only.",
    )


class JoinRequest(_Strict):
    project: str = Field(pattern=SLUG_PATTERN)
    last_event_id: int | None = Field(default=None, ge=0, description="Overrides the handshake's last_event_id.")


class LeaveRequest(_Strict):
    project: str = Field(pattern=SLUG_PATTERN)


class LoginRequest(_Strict):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


def describe(exc: ValidationError) -> dict:
    """The first validation problem as ``{field, message}`` (what the ``error`` event carries)."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "payload"
    return {
        "field": field,
        "message": first["msg"],
        "errors": [
            {"field": ".".join(str(p) for p in e["loc"]) or "payload", "message": e["msg"]} for e in exc.errors()
        ],
    }
