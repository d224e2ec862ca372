"""The till's SQL (`available_for_receipt`): a ref's past use, and the candidate refs of a receipt.

The discounts app's other statements live in `discounts/sql.py`; these are the read side of the usage ledger and
of refs at evaluation time, built the same way (identifiers from the models' `_meta`, values as parameters, run on
`loyalty.core.sql.raw_cursor()`).
"""

from __future__ import annotations

from discounts.models import DiscountRef, DiscountRule, DiscountUsage
from loyalty.core.sql import column, sql, table

# Per ref of `%(refs)s` (uuid[]): its purchases until `%(at)s`, one row per purchase (the largest figures of the
# purchase's ledger rows: a claim and the receipt of one purchase are not added up), skipping released claims.
# A `*` ref is shared by every customer, so only the use by `%(customer)s` counts for it.
# → (ref id, purchases, usage, amount, bonus, stamp, last rewarded purchase at, stamp times[], stamp counts[])
REF_USAGE = sql.SQL(
    """
    WITH purchase AS (
        SELECT used.{u_ref} AS ref_id, min(used.{u_at}) AS at, max(used.{u_usage}) AS usage,
               max(used.{u_amount}) AS amount, max(used.{u_bonus}) AS bonus, max(used.{u_stamp}) AS stamp
        FROM {usage} used JOIN {ref} ref ON ref.{r_id} = used.{u_ref}
        WHERE used.{u_account} = %(account)s::int AND used.{u_ref} = ANY(%(refs)s::uuid[])
          AND used.{u_at} <= %(at)s::timestamptz
          AND (used.{u_released} IS NULL OR used.{u_released} > %(at)s::timestamptz)
          AND (ref.{r_customer} <> '*' OR used.{u_customer} = %(customer)s::text)
        GROUP BY used.{u_ref}, used.{u_purchase}),
    rewarded AS (
        SELECT ref_id, max(at) FILTER (WHERE usage > 0) AS last_reward_at FROM purchase GROUP BY ref_id)
    SELECT purchase.ref_id, count(*), sum(usage), sum(amount), sum(bonus), sum(stamp),
           coalesce(array_agg(at ORDER BY at) FILTER (WHERE stamp > 0 AND at > coalesce(last_reward_at, '-infinity')), '{{}}'),
           coalesce(array_agg(stamp ORDER BY at) FILTER (WHERE stamp > 0 AND at > coalesce(last_reward_at, '-infinity')), '{{}}')
    FROM purchase JOIN rewarded USING (ref_id)
    GROUP BY purchase.ref_id
"""
).format(
    usage=table(DiscountUsage),
    ref=table(DiscountRef),
    r_id=column(DiscountRef, "id"),
    r_customer=column(DiscountRef, "customer_id"),
    u_ref=column(DiscountUsage, "ref"),
    u_at=column(DiscountUsage, "at"),
    u_usage=column(DiscountUsage, "usage"),
    u_amount=column(DiscountUsage, "amount"),
    u_bonus=column(DiscountUsage, "bonus"),
    u_stamp=column(DiscountUsage, "stamp"),
    u_account=column(DiscountUsage, "account"),
    u_released=column(DiscountUsage, "released_at"),
    u_customer=column(DiscountUsage, "customer_id"),
    u_purchase=column(DiscountUsage, "purchase_key"),
)


# A rule's `limitation.dynamic_purchase_to_days`, counted from the ref's creation, still holds at `%s`
# (a condition on DiscountRef rows joined to their rule; rules without it always pass).
DYNAMIC_WINDOW = sql.SQL(
    """
    CASE WHEN jsonb_typeof({rule}.{document} #> '{{limitation,dynamic_purchase_to_days}}') = 'number'
         THEN {ref}.{created_at}
              + ({rule}.{document} #>> '{{limitation,dynamic_purchase_to_days}}')::numeric * interval '1 day'
              >= %s::timestamptz
         ELSE true END
"""
).format(
    rule=table(DiscountRule),
    ref=table(DiscountRef),
    document=column(DiscountRule, "document"),
    created_at=column(DiscountRef, "created_at"),
)
