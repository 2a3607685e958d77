"""Column types of the app database that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, always handed back as an aware UTC ``datetime``: the app DB's one datetime type.

    The column underneath is ``DateTime(timezone=True)`` (``TIMESTAMP WITH TIME
    ZONE`` on PostgreSQL, text on SQLite), so the schema and its migrations are
    exactly what a plain ``DateTime(timezone=True)`` column gives.  What this
    type adds is the same behaviour on both backends:

    * SQLite keeps no offset: it stores the wall-clock digits of whatever it is
      given and reads them back naive.  Converting every value to UTC before it
      is written is what makes the stored digits mean one instant (an aware
      ``+02:00`` time would otherwise be stored two hours off), and makes the
      text order SQLite compares by the time order.  Comparison parameters
      (``created_at >= since``) go through the same conversion, so filters
      agree with what was stored.
    * PostgreSQL returns aware values in the session's ``TimeZone`` setting,
      which is server configuration; reads are converted to UTC so nothing
      depends on it.

    Naive values are taken as UTC rather than rejected.  The whole app writes
    UTC (``include.db.models.utcnow``), every SQLite file written before this
    type existed holds naive UTC digits, and the API accepts offset-less times
    from clients; rejecting them would turn a client's ambiguous but harmless
    input into a server error, while PostgreSQL on its own would read them in
    the server's time zone.  Taking them as UTC is the one reading that agrees
    with all of those.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    @staticmethod
    def as_utc(value: datetime) -> datetime:
        """``value`` as an aware UTC datetime (naive means UTC)."""
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            # A date, a string or a number would be stored as something no reader parses back the same way.
            raise TypeError(f"UTCDateTime needs a datetime, got {type(value).__name__}: {value!r}")
        return self.as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return self.as_utc(value)


def _to_utc_on_set(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
    return UTCDateTime.as_utc(value) if isinstance(value, datetime) else value


def convert_on_assignment(base: type) -> None:
    """Make every ``UTCDateTime`` attribute of ``base``'s models hold UTC from the moment it is set.

    Bind conversion covers what reaches the database, but an object keeps the
    value it was given until it is expired and read back: a route that sets
    ``row.created_at = body.created_at`` and answers from ``row`` would echo a
    client's naive or ``+05:30`` time.  Converting on assignment means an
    object never holds a time the database would not hand back.
    """
    from sqlalchemy import event

    for mapper in base.registry.mappers:
        for prop in mapper.column_attrs:
            if any(isinstance(col.type, UTCDateTime) for col in prop.columns):
                event.listen(getattr(mapper.class_, prop.key), "set", _to_utc_on_set, retval=True)


def render_alembic_type(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Alembic ``render_item`` hook: autogenerate writes the app's column types as the schema has them.

    Without it a generated migration names ``include.db.types.UTCDateTime()``
    without importing it (and ties migrations to this module), and renders the
    JSON/JSONB variant with a bare ``Text()`` it does not import either.  What is
    stored is plain ``DateTime(timezone=True)`` and ``JSON`` (``JSONB`` on
    PostgreSQL), which is what the hand-written migrations say too.
    """
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, JSON) and "postgresql" in getattr(obj, "_variant_mapping", {}):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')"
    return False
