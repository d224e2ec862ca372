"""The one home of raw SQL's plumbing: cursors, identifiers from models, composition, COPY and advisory locks.

Each app keeps its statements in named modules (`<app>/sql.py` or a `sql/` package) and builds them with
`psycopg.sql` from these helpers, so table and column names always come from the models' `_meta`, never from
literals, and values always travel as parameters.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db import connection, models
from django.db.models.expressions import RawSQL
from psycopg import sql
from psycopg.types.datetime import DatetimeDumper, TimestamptzLoader

__all__ = [
    "Composable",
    "UtcDatetimeDumper",
    "advisory_key",
    "advisory_unlock",
    "advisory_xact_lock",
    "column",
    "columns",
    "copy_columns",
    "raw_cursor",
    "raw_expression",
    "render",
    "sql",
    "table",
]

Composable = sql.Composable


def raw_cursor(*, c_timestamps: bool = False) -> psycopg.Cursor[Any]:
    """A psycopg cursor with server-side binding on Django's connection, in the caller's transaction.

    Arrays travel as parameters (not as SQL text) and COPY is available; Django's own cursor offers neither.

    `c_timestamps`: timestamptz values are parsed by psycopg's C loader instead of Django's (pure Python, ~3 µs
    each), for hot statements returning many. The values are the same: Django keeps its connection's session in
    its own time zone (UTC), the zone psycopg's loader gives them, and Django's loader only labels them with it."""
    # as Django's own cursors do: a persistent connection that died since the last request is replaced (once per
    # request, with CONN_HEALTH_CHECKS), not left to fail every request that only runs raw statements
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    cur = psycopg.Cursor(connection.connection)
    if c_timestamps and connection.timezone_name == "UTC":
        cur.adapters.register_loader("timestamptz", TimestamptzLoader)
    return cur


class UtcDatetimeDumper(DatetimeDumper):
    """Aware datetimes sent as text in UTC. Django binds parameters client-side, as text literals, and RFC 3339 (and
    Python) allow offsets up to ±23:59 where PostgreSQL accepts ±15:59 only: a valid "…+18:42" would otherwise fail
    the query. Registered for every connection by `loyalty.core`'s app config."""

    def dump(self, obj: datetime) -> Any:
        # a naive value (a COPY typed by column) stays as written: astimezone would read it in the process's zone;
        # within a day of year 1 or 9999 an instant may not exist in UTC for Python: then it is sent as written
        if obj.tzinfo is not None:
            with contextlib.suppress(OverflowError):
                obj = obj.astimezone(UTC)
        return super().dump(obj)


def table(model: type[models.Model]) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def column(model: type[models.Model], field: str) -> sql.Identifier:
    """A field's column (`customer` → `customer_id` for a foreign key)."""
    found = model._meta.get_field(field)
    if not isinstance(found, models.Field) or not found.column:
        raise ValueError(f"{model.__name__}.{field} is not a concrete field")
    return sql.Identifier(found.column)


def columns(model: type[models.Model], fields: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(column(model, name) for name in fields)


def copy_columns(model: type[models.Model], *, exclude: Sequence[str] = ()) -> list[str]:
    """The concrete fields of a model in declaration order, by name: the column list a COPY of it writes."""
    return [
        f.name
        for f in model._meta.concrete_fields
        if f.name not in exclude and not (isinstance(f, models.AutoField) and f.name in exclude)
    ]


def render(statement: sql.Composable) -> str:
    """A composed statement as text, for Django's cursor and for querysets' `extra`/`RawSQL` (values stay params)."""
    connection.ensure_connection()
    return statement.as_string(connection.connection)


def advisory_key(namespace: str, object_id: int) -> int:
    """A 64-bit advisory lock key: the namespace's CRC in the high bits, the object id in the low ones."""
    return (zlib.crc32(namespace.encode()) << 31) ^ object_id


def advisory_xact_lock(cur: Any, key: int, *, shared: bool = False) -> None:
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    cur.execute(sql.SQL("SELECT {}(%s)").format(sql.Identifier(function)).as_string(cur.connection), [key])


def advisory_unlock(cur: Any, key: int) -> None:
    cur.execute("SELECT pg_advisory_unlock(%s)", [key])


def raw_expression(statement: sql.Composable, params: Sequence[Any], *, output_field: Any = None) -> RawSQL:
    """A composed statement as an ORM expression (a condition, or a subquery for `__in`).

    The one `RawSQL` of the project: the text comes from `psycopg.sql` composition (identifiers quoted, no values
    in it) and every value travels in `params`."""
    return RawSQL(render(statement), params, output_field=output_field)  # noqa: S611 - composed, values as params
