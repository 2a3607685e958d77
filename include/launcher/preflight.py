"""Fail fast, in one line, when a setting is wrong.

A newcomer who mistypes ``AUTOPR_DATABASE_URL`` should read
"AUTOPR_DATABASE_URL: cannot connect ..." — not a 60-line traceback from
deep inside SQLAlchemy thirty seconds into start-up.
"""

from __future__ import annotations

from include.settings import Settings, SettingsError, load_settings


def check_settings() -> Settings:
    """Load settings and probe what they point at; raise SettingsError naming the setting."""
    settings = load_settings()
    _check_database(settings)
    _check_redis(settings)
    if settings.airflow_executor == "CeleryExecutor" and not (settings.redis_url and settings.airflow_database_url):
        raise SettingsError(
            "AUTOPR_AIRFLOW_EXECUTOR=CeleryExecutor needs AUTOPR_REDIS_URL (broker) and "
            "AUTOPR_AIRFLOW_DATABASE_URL (a PostgreSQL metadata DB)"
        )
    return settings


def _check_database(settings: Settings) -> None:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(settings.database_url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver error becomes one readable line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SettingsError(f"AUTOPR_DATABASE_URL: cannot connect to the app database: {first}") from None


def _check_redis(settings: Settings) -> None:
    if not settings.redis_url:
        return
    import redis

    try:
        client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:
        raise SettingsError(f"AUTOPR_REDIS_URL: Redis at {settings.redis_url} is unreachable: {exc}") from None
