"""Liveness of the platform API and its app database."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from include.db.session import get_engine

router = APIRouter(tags=["health"])


@router.get("/health", summary="Platform API and app database health")
def health() -> dict[str, str]:
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "healthy"
    except Exception as exc:  # report, never raise: this is a health probe
        database = f"unhealthy: {type(exc).__name__}"
    return {"status": "healthy" if database == "healthy" else "degraded", "database": database}
