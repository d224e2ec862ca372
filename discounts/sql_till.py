"""The till's SQL (`available_for_receipt`): a ref's past use, and the candidate refs of a receipt with theirs.

The discounts app's other statements live in `discounts/sql.py`; these are the read side of the usage ledger and
of refs at evaluation time, built the same way (identifiers from the models' `_meta`, values as parameters, run on
`loyalty.core.sql.raw_cursor()`).
"""

from __future__ import annotations

from discounts.models import DiscountRef, DiscountRule, DiscountUsage
from loyalty.core.sql import column, sql, table

_REF, _RULE, _USAGE = table(DiscountRef), table(DiscountRule), table(DiscountUsage)


def _u(field: str) -> sql.Identifier:
    return column(DiscountUsage, field)


# One ref's (`ref`) use until `%(at)s`, as one row: its purchases, one per purchase key (the largest figures of the
# purchase's ledger rows: a claim and the receipt of one purchase are not added up), released claims skipped. A `*`
# ref is shared by every customer, so only the use by `%(customer)s` counts for it.
# → purchases, usage, amount, bonus, stamp, stamp times[] and counts[] since the last rewarded purchase
_USED = sql.SQL(
    """
    LEFT JOIN LATERAL (
        WITH purchase AS (
            SELECT min(u.{at}) AS at, max(u.{usage}) AS usage, max(u.{amount}) AS amount, max(u.{bonus}) AS bonus,
                   max(u.{stamp}) AS stamp
            FROM {usage_table} u
            WHERE u.{account} = %(account)s::int AND u.{ref} = ref.{ref_id} AND u.{at} <= %(at)s::timestamptz
              AND (u.{released} IS NULL OR u.{released} > %(at)s::timestamptz)
              AND (ref.{ref_customer} <> '*' OR u.{customer} = %(customer)s::text)
            GROUP BY u.{purchase}),
        rewarded AS (SELECT coalesce(max(at) FILTER (WHERE usage > 0), '-infinity') AS at FROM purchase)
        SELECT count(*) AS purchases, coalesce(sum(usage), 0) AS usage, coalesce(sum(amount), 0) AS amount,
               coalesce(sum(bonus), 0) AS bonus, coalesce(sum(stamp), 0) AS stamp,
               coalesce(array_agg(purchase.at ORDER BY purchase.at)
                        FILTER (WHERE stamp > 0 AND purchase.at > rewarded.at), '{{}}') AS stamp_at,
               coalesce(array_agg(stamp ORDER BY purchase.at)
                        FILTER (WHERE stamp > 0 AND purchase.at > rewarded.at), '{{}}') AS stamp_counts
        FROM purchase, rewarded) used ON true
"""
).format(
    usage_table=_USAGE,
    at=_u("at"),
    usage=_u("usage"),
    amount=_u("amount"),
    bonus=_u("bonus"),
    stamp=_u("stamp"),
    account=_u("account"),
    ref=_u("ref"),
    released=_u("released_at"),
    customer=_u("customer_id"),
    purchase=_u("purchase_key"),
    ref_id=column(DiscountRef, "id"),
    ref_customer=column(DiscountRef, "customer_id"),
)
USED_COLUMNS = sql.SQL(
    "used.purchases, used.usage, used.amount, used.bonus, used.stamp, used.stamp_at, used.stamp_counts"
)

# Every ref of `%(refs)s` (uuid[]) of the account that was used until `%(at)s` → (ref id, *USED_COLUMNS)
REF_USAGE = sql.SQL(
    """
    SELECT ref.{ref_id}, {used_columns}
    FROM {ref_table} ref {used}
    WHERE ref.{ref_id} = ANY(%(refs)s::uuid[]) AND ref.{ref_account} = %(account)s::int AND used.purchases > 0
"""
).format(
    ref_table=_REF,
    ref_id=column(DiscountRef, "id"),
    ref_account=column(DiscountRef, "account"),
    used=_USED,
    used_columns=USED_COLUMNS,
)

# The rule's columns the till reads (the evaluator, and `selectors.rule_to_api` for the rules that apply), in the
# model's order (the selector builds the rule with `Model.from_db`, the others deferred). Each timestamp left out
# is one less to parse per candidate: parsing is most of the statement's cost in Python.
TILL_RULE_FIELDS = frozenset(
    {"id", "type", "created_at", "created_by", "updated_at", "updated_by", "deleted_at", "deleted_by", "document",
     "active", "private"}
)  # fmt: skip
RULE_FIELDS = [field.name for field in DiscountRule._meta.concrete_fields if field.name in TILL_RULE_FIELDS]

# The candidates of a receipt: live refs of `%(holders)s` (text[]: the customer and `*`, or `/`) of live, active
# rules whose window holds at `%(purchase_at)s`, also counted from the ref's creation with
# `limitation.dynamic_purchase_to_days`; with each ref's use (see `_USED`). The partial index (account,
# customer_id, id) over live refs finds them, and each one's rule is looked up by its key (a LATERAL with LIMIT 1,
# which the planner cannot turn into a scan of the account's rules): the cost follows the holders' refs only.
# → (ref id, ref customer_id, ref created_at, *RULE_FIELDS, *USED_COLUMNS), in ref order
CANDIDATES = sql.SQL(
    """
    WITH held AS MATERIALIZED (
        SELECT * FROM {ref_table} ref
        WHERE ref.{ref_account} = %(account)s::int AND ref.{ref_customer} = ANY(%(holders)s::text[])
          AND ref.{ref_deleted} IS NULL)
    SELECT ref.{ref_id}, ref.{ref_customer}, ref.{ref_created}, {rule_columns}, {used_columns}
    FROM held ref
    CROSS JOIN LATERAL (
        SELECT * FROM {rule_table} rule
        -- `+ 0`: the account is checked, but only the primary key may find the rule (an (account, …) index would
        -- walk the account's rules)
        WHERE rule.{rule_id} = ref.{ref_rule} AND rule.{rule_account} + 0 = %(account)s::int
          AND rule.{rule_deleted} IS NULL AND rule.{rule_active}
          AND rule.{purchase_from} <= %(purchase_at)s::timestamptz
          AND rule.{purchase_to} >= %(purchase_at)s::timestamptz
          AND CASE WHEN jsonb_typeof(rule.{document} #> '{{limitation,dynamic_purchase_to_days}}') = 'number'
                   THEN ref.{ref_created}
                        + (rule.{document} #>> '{{limitation,dynamic_purchase_to_days}}')::numeric * interval '1 day'
                        >= %(purchase_at)s::timestamptz
                   ELSE true END
        LIMIT 1) rule
    {used}
    ORDER BY ref.{ref_id}
"""
).format(
    ref_table=_REF,
    rule_table=_RULE,
    ref_id=column(DiscountRef, "id"),
    ref_customer=column(DiscountRef, "customer_id"),
    ref_created=column(DiscountRef, "created_at"),
    ref_rule=column(DiscountRef, "rule"),
    ref_account=column(DiscountRef, "account"),
    ref_deleted=column(DiscountRef, "deleted_at"),
    rule_columns=sql.SQL(", ").join(sql.SQL("rule.{}").format(column(DiscountRule, f)) for f in RULE_FIELDS),
    rule_id=column(DiscountRule, "id"),
    rule_account=column(DiscountRule, "account"),
    rule_deleted=column(DiscountRule, "deleted_at"),
    rule_active=column(DiscountRule, "active"),
    purchase_from=column(DiscountRule, "purchase_from"),
    purchase_to=column(DiscountRule, "purchase_to"),
    document=column(DiscountRule, "document"),
    used=_USED,
    used_columns=USED_COLUMNS,
)
