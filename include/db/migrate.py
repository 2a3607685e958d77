"""Run the app database's Alembic migrations from code (the run and test commands use this).

    python -m include.db.migrate upgrade      # to head
    python -m include.db.migrate downgrade base
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from include.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' must be escaped for configparser interpolation (passwords may contain it).
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "upgrade"
    revision = argv[1] if len(argv) > 1 else ("head" if action == "upgrade" else "base")
    if action not in ("upgrade", "downgrade"):
        print("usage: python -m include.db.migrate [upgrade|downgrade] [revision]", file=sys.stderr)
        return 2
    (upgrade if action == "upgrade" else downgrade)(revision=revision)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
