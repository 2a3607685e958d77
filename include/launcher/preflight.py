"""Fail fast, in one line, naming the real cause.

A newcomer who mistypes ``AUTOPR_DATABASE_URL`` should read "AUTOPR_DATABASE_URL:
cannot connect ..." — not a traceback thirty seconds into start-up.  A newcomer
who set nothing must never be told to fix a setting they did not set: the
directories the defaults point into are created first, and an error about a
default names the path or server that failed (and which setting would move it).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from include.settings import Settings, SettingsError, load_settings


def check_settings() -> Settings:
    """Load settings, create the directories they point into, probe the servers; raise SettingsError."""
    settings = load_settings()
    ensure_directories(settings)
    _check_database(settings)
    _check_redis(settings)
    if settings.airflow_executor == "CeleryExecutor" and not (settings.redis_url and settings.airflow_database_url):
        raise SettingsError(
            "AUTOPR_AIRFLOW_EXECUTOR=CeleryExecutor needs AUTOPR_REDIS_URL (broker) and "
            "AUTOPR_AIRFLOW_DATABASE_URL (a PostgreSQL metadata DB)"
        )
    return settings


def _source(settings: Settings, field: str, what: str) -> str:
    """How an error refers to a setting: by its variable when the user set it, else by what it is."""
    if settings.is_explicit(field):
        return f"{settings.env_name(field)}: {what}"
    return f"{what} (default; {settings.env_name(field)} moves it)"


def _sqlite_dir(url: str | None) -> Path | None:
    if not url:
        return None
    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser().resolve().parent


def directories(settings: Settings) -> list[tuple[str, Path]]:
    """(setting, directory) for every local directory the settings point into."""
    dirs = [
        ("state_dir", settings.state_dir),
        ("state_dir", settings.airflow_home),
        ("state_dir", settings.state_dir / "logs"),
        ("workflows_dir", settings.workflows_dir),
        ("dataset_dir", settings.dataset_dir),
    ]
    for field, url in (("database_url", settings.database_url), ("mlflow_tracking_uri", settings.mlflow_tracking_uri),
                       ("mlflow_backend_store_uri", settings.mlflow_backend_store_uri),
                       ("airflow_database_url", settings.airflow_database_url)):
        folder = _sqlite_dir(url)
        if folder is not None:
            dirs.append((field, folder))
    # Local artifact directories only: object stores (s3://...) and mlflow-artifacts:/ are not ours to create.
    for field in ("mlflow_artifact_root", "mlflow_artifacts_destination"):
        location = getattr(settings, field)
        if location and ":" not in location.split("/", 1)[0]:
            dirs.append((field, Path(location)))
        elif location.startswith("file://"):
            dirs.append((field, Path(location.removeprefix("file://"))))
    return dirs


def ensure_directories(settings: Settings) -> None:
    for field, folder in directories(settings):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise SettingsError(_source(settings, field, f"cannot create the directory {folder}: {reason}")) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_database(settings: Settings) -> None:
    from sqlalchemy import create_engine, text

    url = make_url(settings.database_url)
    where = (f"SQLite file {url.database}" if url.get_backend_name() == "sqlite"
             else f"{url.get_backend_name()} at {url.host or 'localhost'}:{url.port or 'default port'}")
    try:
        engine = create_engine(settings.database_url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver error becomes one readable line
        raise SettingsError(_source(settings, "database_url",
                                    f"cannot open the app database ({where}): {_first_line(exc)}")) from None


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


# What every container of a deployment must share, by role. Generated-once files in a state directory are
# per host: each container would invent its own, and tokens, encrypted connections and sessions would not verify.
_SHARED_SECRETS = {
    "AUTOPR_JWT_SECRET": "signs and verifies every token (Airflow's [api_auth] jwt_secret, the sidecar, the API)",
    "AIRFLOW__CORE__FERNET_KEY": "encrypts connection passwords in Airflow's database",
    "AIRFLOW__API__SECRET_KEY": "signs Airflow's UI sessions and log-server requests",
}
_ROLE_SECRETS = {
    "dashboard": ("AUTOPR_JWT_SECRET",),
    "mlflow": (),
}


def check_role_secrets(role: str, environ: dict[str, str] | None = None) -> None:
    """Refuse to start one role of a deployment with secrets it would otherwise generate for itself alone."""
    env = os.environ if environ is None else environ
    needed = list(_ROLE_SECRETS.get(role, tuple(_SHARED_SECRETS)))
    if role in ("init", "airflow-api-server"):
        needed.append("AUTOPR_ADMIN_PASSWORD")
    missing = [name for name in needed if not env.get(name)]
    if missing:
        why = "; ".join(f"{name} {_SHARED_SECRETS.get(name, 'is the admin login the API server accepts')}"
                        for name in missing)
        raise SettingsError(f"{', '.join(missing)}: must be set to run the {role} role on its own, the same in every "
                            f"container ({why}). Generate values with: python -c 'import secrets; "
                            f"print(secrets.token_urlsafe(32))' (the Fernet key: python -c 'from cryptography.fernet "
                            f"import Fernet; print(Fernet.generate_key().decode())')")
