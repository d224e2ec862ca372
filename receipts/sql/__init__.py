"""The receipts app's SQL statements, by topic: `store` (the write path's COPY and probes), `read_models` (keeping
customers, codes, facts, buyers and windows exact), `reads` (reads the ORM cannot express).

Each statement is composed once, at import, with `psycopg.sql` from the models' `_meta` and kept as text, so
executing one costs no composition. In a template `{receipt}` is a model's table and `{receipt.purchase_at}` one of
its fields' column (a foreign key's column, e.g. `{fact.customer}` → `customer_pk`). Values always travel as
parameters.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from loyalty.core.sql import sql, table


def column_name(model: type[models.Model], field: str) -> str:
    """A concrete field's column (`customer` → `customer_pk` for a foreign key)."""
    concrete = model._meta.get_field(field)
    assert isinstance(concrete, models.Field) and concrete.column, f"{model.__name__}.{field} has no column"
    return concrete.column


def model_parts(**tables: type[models.Model]) -> dict[str, sql.Composable]:
    """`{name}` → the model's table and `{name.field}` → each concrete field's column, for `statement`."""
    parts: dict[str, sql.Composable] = {}
    for name, model in tables.items():
        parts[name] = table(model)
        for field in model._meta.concrete_fields:
            parts[f"{name}.{field.name}"] = sql.Identifier(column_name(model, field.name))
    return parts


def statement(template: str, tables: dict[str, type[models.Model]] | None = None, **parts: Any) -> str:
    """A statement composed from a template, the tables it names and any other fragments, as the text a cursor
    executes."""
    composed = sql.SQL(template).format(**model_parts(**(tables or {})), **parts)
    return composed.as_string()
