"""Alembic environment: migrates whichever database the config's URL names."""

from __future__ import annotations

from alembic import context

from include.db.models import Base
from include.db.session import get_engine
from include.db.types import render_alembic_type

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True, render_item=render_alembic_type)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = get_engine(url)
    with engine.connect() as connection:
        # render_as_batch lets ALTERs work on SQLite (copy-and-move tables).
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          render_item=render_alembic_type)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
