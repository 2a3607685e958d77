"""Verify (and, for tests and tools, mint) JWTs in the format Airflow issues.

Airflow 3 signs API tokens with ``[api_auth] jwt_secret`` using HS512.  The
simple auth manager puts the username in ``sub``; FAB puts its user id there,
so with FAB (include/auth/fab_auth_manager.py) the username is a claim of its
own.  The run command configures Airflow with the same secret, audience and
issuer as these settings, so a token from ``POST /auth/token`` verifies here
and vice versa.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from include.settings import Settings, get_settings

ALGORITHM = "HS512"


class TokenError(Exception):
    """The token is missing, malformed, badly signed or expired; ``reason`` is safe to show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    username: str
    expires_at: float
    claims: dict


def verify_token(token: str | None, settings: Settings | None = None) -> Identity:
    """Return who the token belongs to, or raise TokenError saying why not."""
    if not token:
        raise TokenError("missing token")
    settings = settings or get_settings()
    try:
        claims = jwt.decode(
            token,
            settings.resolved_jwt_secret(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidSignatureError:
        raise TokenError("bad token signature") from None
    except jwt.InvalidAudienceError:
        raise TokenError("token audience not accepted") from None
    except jwt.InvalidIssuerError:
        raise TokenError("token issuer not accepted") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from None
    username = claims.get("username") or claims["sub"]
    return Identity(username=str(username), expires_at=float(claims["exp"]), claims=claims)


def mint_token(username: str, ttl_seconds: int = 3600, settings: Settings | None = None, **extra: object) -> str:
    """Sign a token the way Airflow does (for tests, benchmarks and service accounts)."""
    settings = settings or get_settings()
    now = int(time.time())
    claims = {
        "sub": username,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
        # Airflow's simple auth manager rebuilds its user from "sub" and "role"; tokens minted here
        # carry its least-privileged role unless the caller says otherwise.
        "role": "viewer",
        **extra,
    }
    return jwt.encode(claims, settings.resolved_jwt_secret(), algorithm=ALGORITHM)
