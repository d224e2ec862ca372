"""The discounts app's raw SQL: giving and taking refs in one statement each.

Built with `psycopg.sql` from the models' `_meta` (through `loyalty.core.sql`); values are always parameters.
Run them on `loyalty.core.sql.raw_cursor()` (arrays travel as parameters).
"""

from __future__ import annotations

from discounts.models import DiscountRef
from loyalty.core.ids import UUID7_BLOCK_SQL
from loyalty.core.sql import column, columns, sql, table

_REF = table(DiscountRef)
_CUSTOMER = column(DiscountRef, "customer_id")
_RULE = column(DiscountRef, "rule")
_ACCOUNT = column(DiscountRef, "account")
_DELETED_AT = column(DiscountRef, "deleted_at")
_DELETED_BY = column(DiscountRef, "deleted_by")
_CREATED_BY = column(DiscountRef, "created_by")


def give(*, only_without_live_ref: bool) -> sql.Composed:
    """Insert a ref per customer of `%(customers)s` (a text[]), ids from a reserved uuid7 block.

    A customer without an offering constraint gets a ref only when they hold no live ref of the rule at all (the
    NOT EXISTS); with a constraint, only when they hold no live ref with that constraint (the unique index). The
    ON CONFLICT also drops repeats that the same statement inserts.
    """
    only_new = (
        sql.SQL(
            """
    WHERE NOT EXISTS (
        SELECT 1 FROM {ref} held
        WHERE held.{rule} = %(rule)s::uuid AND held.{customer} = given.customer_id AND held.{deleted_at} IS NULL)
"""
        ).format(ref=_REF, rule=_RULE, customer=_CUSTOMER, deleted_at=_DELETED_AT)
        if only_without_live_ref
        else sql.SQL("")
    )
    return sql.SQL(
        """
    INSERT INTO {ref} ({columns})
    SELECT {new_id}, %(account)s::int, %(rule)s::uuid, given.customer_id, %(constraint)s::text,
           %(now)s::timestamptz, %(actor)s::text
    FROM unnest(%(customers)s::text[]) WITH ORDINALITY AS given(customer_id, n)
    {only_new}
    ON CONFLICT DO NOTHING
"""
    ).format(
        ref=_REF,
        columns=columns(
            DiscountRef, ["id", "account", "rule", "customer_id", "offering_constraint_id", "created_at", "created_by"]
        ),
        new_id=sql.SQL(UUID7_BLOCK_SQL).format(n=sql.SQL("given.n")),
        only_new=only_new,
    )


def take(*, only_customers: bool, spared: bool = False) -> sql.Composed:
    """Soft-delete the rule's live refs (of `%(customers)s` only, with `only_customers`; but those of
    `%(spared)s`, with `spared`)."""
    scope = sql.SQL("")
    if only_customers:
        scope += sql.SQL("AND ref.{customer} = ANY(%(customers)s::text[])").format(customer=_CUSTOMER)
    if spared:
        scope += sql.SQL(" AND ref.{customer} <> ALL(%(spared)s::text[])").format(customer=_CUSTOMER)
    return sql.SQL(
        """
    UPDATE {ref} ref SET {deleted_at} = %(now)s::timestamptz, {deleted_by} = %(actor)s::text
    WHERE ref.{account} = %(account)s::int AND ref.{rule} = %(rule)s::uuid AND ref.{deleted_at} IS NULL {scope}
"""
    ).format(
        ref=_REF,
        deleted_at=_DELETED_AT,
        deleted_by=_DELETED_BY,
        account=_ACCOUNT,
        rule=_RULE,
        scope=scope,
    )


# Take back the refs `%(given_by)s` gave that are not in `%(keep)s` (a text[]).
TAKE_DEPARTED = sql.SQL(
    """
    UPDATE {ref} ref SET {deleted_at} = %(now)s::timestamptz, {deleted_by} = %(actor)s::text
    WHERE ref.{account} = %(account)s::int AND ref.{rule} = %(rule)s::uuid AND ref.{deleted_at} IS NULL
      AND ref.{created_by} = %(given_by)s::text AND NOT (ref.{customer} = ANY(%(keep)s::text[]))
"""
).format(
    ref=_REF,
    deleted_at=_DELETED_AT,
    deleted_by=_DELETED_BY,
    account=_ACCOUNT,
    rule=_RULE,
    created_by=_CREATED_BY,
    customer=_CUSTOMER,
)
