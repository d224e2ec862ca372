"""The discounts app's raw SQL: giving and taking refs in one statement each.

Built with `psycopg.sql` from the models' `_meta` (through `loyalty.core.sql`); values are always parameters.
Run them on `loyalty.core.sql.raw_cursor()` (arrays travel as parameters).
"""

from __future__ import annotations

from discounts.models import DiscountRef
from loyalty.core.ids import UUID7_BLOCK_SQL
from loyalty.core.sql import column, columns, sql, table
from receipts.models import Customer
from segments.models import MembershipSpan, Segment, SegmentMember, SegmentRun

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


def take(
    *, only_customers: bool = False, spared: bool = False, given_by: bool = False, keep: bool = False
) -> sql.Composed:
    """Soft-delete the rule's live refs, narrowed by each option that is set: to `%(customers)s`
    (`only_customers`), sparing `%(spared)s` (`spared`), to those `%(given_by)s` gave (`given_by`), to customers
    not in `%(keep)s` (`keep`). Every list is a text[]."""
    scope: sql.Composable = sql.SQL("")
    if only_customers:
        scope += sql.SQL(" AND ref.{customer} = ANY(%(customers)s::text[])").format(customer=_CUSTOMER)
    if spared:
        scope += sql.SQL(" AND ref.{customer} <> ALL(%(spared)s::text[])").format(customer=_CUSTOMER)
    if given_by:
        scope += sql.SQL(" AND ref.{created_by} = %(given_by)s::text").format(created_by=_CREATED_BY)
    if keep:
        scope += sql.SQL(" AND NOT (ref.{customer} = ANY(%(keep)s::text[]))").format(customer=_CUSTOMER)
    return sql.SQL(
        """
    UPDATE {ref} ref SET {deleted_at} = %(now)s::timestamptz, {deleted_by} = %(actor)s::text
    WHERE ref.{account} = %(account)s::int AND ref.{rule} = %(rule)s::uuid AND ref.{deleted_at} IS NULL{scope}
"""
    ).format(
        ref=_REF,
        deleted_at=_DELETED_AT,
        deleted_by=_DELETED_BY,
        account=_ACCOUNT,
        rule=_RULE,
        scope=scope,
    )


# Take back the refs `%(given_by)s` gave that are not in `%(keep)s`: members who left a synced segment.
TAKE_DEPARTED = take(given_by=True, keep=True)

# Take back the refs `%(given_by)s` gave to the customers of `%(customers)s`.
TAKE_GIVEN = take(given_by=True, only_customers=True)

# A segment's published version and how its membership differs from version `%(since)s` (NULL: from nobody), as
# customer ids, in one statement, so a publish committing meanwhile is seen whole or not at all. Older versions'
# member rows are gone once a newer one is published, so the `since` membership comes from the ledger: the spans
# entered by a run that published `since` or earlier and not left by one. Runs publishing an unchanged membership
# keep the version number and write no span, so the ledger and the version numbers agree.
# → (version, added customer ids, removed customer ids); (NULL, NULL, NULL) before a first successful run.
MEMBERSHIP_DIFF = sql.SQL(
    """
    WITH published AS MATERIALIZED (
            SELECT segment.{current_version} AS version FROM {segment} segment WHERE segment.{segment_id} = %(segment)s),
         now_in AS (
            SELECT member.{member_customer} AS customer_pk FROM {member} member, published
            WHERE member.{member_segment} = %(segment)s AND member.{member_version} = published.version),
         then_in AS (
            SELECT span.{span_customer} AS customer_pk
            FROM {span} span
            JOIN {run} entered ON entered.{run_id} = span.{entered_run}
            LEFT JOIN {run} left_ ON left_.{run_id} = span.{left_run}
            WHERE span.{span_segment} = %(segment)s AND entered.{run_version} <= %(since)s::int
              AND (span.{left_run} IS NULL OR left_.{run_version} > %(since)s::int)),
         diff AS (
            SELECT now_in.customer_pk AS added, then_in.customer_pk AS removed
            FROM now_in FULL JOIN then_in ON then_in.customer_pk = now_in.customer_pk
            WHERE now_in.customer_pk IS NULL OR then_in.customer_pk IS NULL)
    SELECT published.version,
           coalesce((SELECT array_agg(customer.{customer_id} ORDER BY customer.{customer_id})
                     FROM diff JOIN {customer} customer ON customer.{customer_pk} = diff.added), '{{}}'),
           coalesce((SELECT array_agg(customer.{customer_id} ORDER BY customer.{customer_id})
                     FROM diff JOIN {customer} customer ON customer.{customer_pk} = diff.removed), '{{}}')
    FROM published
"""
).format(
    segment=table(Segment),
    segment_id=column(Segment, "id"),
    current_version=column(Segment, "current_version"),
    member=table(SegmentMember),
    member_customer=column(SegmentMember, "customer"),
    member_segment=column(SegmentMember, "segment"),
    member_version=column(SegmentMember, "version"),
    span=table(MembershipSpan),
    span_customer=column(MembershipSpan, "customer"),
    span_segment=column(MembershipSpan, "segment"),
    entered_run=column(MembershipSpan, "entered_run"),
    left_run=column(MembershipSpan, "left_run"),
    run=table(SegmentRun),
    run_id=column(SegmentRun, "id"),
    run_version=column(SegmentRun, "version"),
    customer=table(Customer),
    customer_pk=column(Customer, "id"),
    customer_id=column(Customer, "customer_id"),
)
