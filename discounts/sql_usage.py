"""The usage ledger's write side and its aggregates: claims' limit checks, usage from receipts, statistics.

Built like `discounts/sql.py` (identifiers from the models' `_meta` through `loyalty.core.sql`, values always
parameters, run on `loyalty.core.sql.raw_cursor()`). The read of one ref's past for the till is in
`discounts/sql_till.py`; the figures here follow the same rules: a purchase (`purchase_key`) counts once, with the
largest of each figure over its ledger rows (a claim and the receipt of one purchase are not added up), released
claims count for nothing, and a `*` ref's use is its customer's.
"""

from __future__ import annotations

from discounts.models import DiscountClaim, DiscountRef, DiscountRule, DiscountUsage
from loyalty.core.sql import column, sql, table
from receipts.models import IngestBatch, Receipt

_USAGE = {
    "usage": table(DiscountUsage),
    "u_account": column(DiscountUsage, "account"),
    "u_rule": column(DiscountUsage, "rule"),
    "u_ref": column(DiscountUsage, "ref"),
    "u_customer": column(DiscountUsage, "customer_id"),
    "u_source": column(DiscountUsage, "source"),
    "u_source_key": column(DiscountUsage, "source_key"),
    "u_purchase": column(DiscountUsage, "purchase_key"),
    "u_usage": column(DiscountUsage, "usage"),
    "u_amount": column(DiscountUsage, "amount"),
    "u_bonus": column(DiscountUsage, "bonus"),
    "u_stamp": column(DiscountUsage, "stamp"),
    "u_at": column(DiscountUsage, "at"),
    "u_released": column(DiscountUsage, "released_at"),
}
_REF = {
    "ref": table(DiscountRef),
    "r_id": column(DiscountRef, "id"),
    "r_account": column(DiscountRef, "account"),
    "r_rule": column(DiscountRef, "rule"),
    "r_customer": column(DiscountRef, "customer_id"),
    "r_deleted": column(DiscountRef, "deleted_at"),
}

# A claim and its ledger rows in one statement: the claim, unless another one holds its `ref` already (the unique
# index; ON CONFLICT waits for that one to commit), then one `claim` row per ref of the arrays (rule, ref, usage,
# amount), keyed by the claim's id. Nothing at all when the ref was taken: rowcount 0.
CLAIM_INSERT = sql.SQL(
    """
    WITH claim AS (
        INSERT INTO {claim} ({c_id}, {c_account}, {c_ref}, {c_type}, {c_purchase_at}, {c_customer}, {c_discounts},
                             {c_created_at}, {c_created_by}, {c_updated_at})
        VALUES (%(id)s::uuid, %(account)s::int, %(ref)s::text, %(type)s::text, %(purchase_at)s::timestamptz,
                %(customer)s::text, %(discounts)s::jsonb, %(now)s::timestamptz, %(actor)s::text, %(now)s::timestamptz)
        ON CONFLICT DO NOTHING
        RETURNING {c_id})
    INSERT INTO {usage} ({u_account}, {u_rule}, {u_ref}, {u_customer}, {u_source}, {u_source_key}, {u_purchase},
                         {u_usage}, {u_amount}, {u_bonus}, {u_stamp}, {u_at}, {u_created})
    SELECT %(account)s::int, used.rule_id, used.ref_id, %(used_by)s::text, 'claim', claim.{c_id}::text,
           %(purchase)s::text, used.usage, used.amount, 0, 0, %(purchase_at)s::timestamptz, %(now)s::timestamptz
    FROM claim, unnest(%(rules)s::uuid[], %(refs)s::uuid[], %(usages)s::int[], %(amounts)s::bigint[])
         AS used(rule_id, ref_id, usage, amount)
"""
).format(
    **_USAGE,
    u_created=column(DiscountUsage, "created_at"),
    claim=table(DiscountClaim),
    c_id=column(DiscountClaim, "id"),
    c_account=column(DiscountClaim, "account"),
    c_ref=column(DiscountClaim, "ref"),
    c_type=column(DiscountClaim, "type"),
    c_purchase_at=column(DiscountClaim, "purchase_at"),
    c_customer=column(DiscountClaim, "customer_id"),
    c_discounts=column(DiscountClaim, "discounts"),
    c_created_at=column(DiscountClaim, "created_at"),
    c_created_by=column(DiscountClaim, "created_by"),
    c_updated_at=column(DiscountClaim, "updated_at"),
)

CLAIM_FIELDS = [field.attname for field in DiscountClaim._meta.concrete_fields]

# The account's claim holding the client `ref` `%(ref)s` (the unique (account, ref) index), every column in the
# model's order (`Model.from_db`).
CLAIM_BY_REF = sql.SQL(
    """
    SELECT {columns} FROM {claim} claim WHERE claim.{c_account} = %(account)s::int AND claim.{c_ref} = %(ref)s::text
"""
).format(
    columns=sql.SQL(", ").join(
        sql.SQL("claim.{}").format(column(DiscountClaim, f.name)) for f in DiscountClaim._meta.concrete_fields
    ),
    claim=table(DiscountClaim),
    c_account=column(DiscountClaim, "account"),
    c_ref=column(DiscountClaim, "ref"),
)

# The account's refs of `%(refs)s` (uuid[]) with what a claim checks of them and their rules, each ref locked (in
# id order, so claims sharing refs cannot deadlock); the rules are not locked.
# → (ref id, rule id, ref customer_id, ref deleted_at, rule deleted_at, rule active, rule document)
REFS_LOCK = sql.SQL(
    """
    SELECT ref.{r_id}, ref.{r_rule}, ref.{r_customer}, ref.{r_deleted}, rule.{rule_deleted}, rule.{rule_active},
           rule.{rule_document}
    FROM {ref} ref JOIN {rule} rule ON rule.{rule_id} = ref.{r_rule}
    WHERE ref.{r_account} = %(account)s::int AND ref.{r_id} = ANY(%(refs)s::uuid[])
    ORDER BY ref.{r_id}
    FOR UPDATE OF ref
"""
).format(
    **_REF,
    rule=table(DiscountRule),
    rule_id=column(DiscountRule, "id"),
    rule_deleted=column(DiscountRule, "deleted_at"),
    rule_active=column(DiscountRule, "active"),
    rule_document=column(DiscountRule, "document"),
)

# Per ref of `%(refs)s` (uuid[]), the purchases that used it besides `%(purchase)s` (the claim's own purchase, which
# a receipt posted first may already have recorded); a `*` ref's by `%(customer)s` only. Refs without use are absent.
# → (ref id, purchases)
REF_PURCHASES = sql.SQL(
    """
    SELECT used.{u_ref}, count(DISTINCT used.{u_purchase})
    FROM {usage} used JOIN {ref} ref ON ref.{r_id} = used.{u_ref}
    WHERE used.{u_account} = %(account)s::int AND used.{u_ref} = ANY(%(refs)s::uuid[])
      AND used.{u_released} IS NULL AND used.{u_purchase} <> %(purchase)s::text
      AND (ref.{r_customer} <> '*' OR used.{u_customer} = %(customer)s::text)
    GROUP BY used.{u_ref}
"""
).format(**_USAGE, **_REF)

_UUID = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"


def _figure(value: str, default: int, ceiling: int) -> sql.Composable:
    """A ref's figure in a receipt document: a JSON number, clamped to what the ledger column holds; else
    `default` (the receipts API validated the document, so this only guards the cast)."""
    return sql.SQL(
        "CASE WHEN jsonb_typeof({value}) = 'number' "
        "THEN greatest(0, least(floor(({value})::numeric), {ceiling})) ELSE {default} END"
    ).format(value=sql.SQL(value), ceiling=sql.Literal(ceiling), default=sql.Literal(default))


# Usage from the receipts with discounts that the batches `%(batches)s` (bigint[]) of account `%(account)s` stored
# (the batch lists them, so documents without any are never opened): one ledger row per
# ref a purchase's `discounts[].refs[]` names, keyed by the receipt's Entity id (a receipt stored twice is stored
# once, and a batch read twice adds nothing: ON CONFLICT DO NOTHING on (ref, source, source_key)). The purchase is
# the receipt's `receipt_id`, the same key a claim with that `ref` has. A ref counts when it is this account's, of the
# rule the discount names (if it names one), and the receipt's customer holds it: their own ref, a `*` ref for a
# receipt with a customer, a `/` ref for any. Returns nothing; rowcount is the rows added.
RECEIPTS_USAGE = sql.SQL(
    """
    INSERT INTO {usage} ({u_account}, {u_rule}, {u_ref}, {u_customer}, {u_source}, {u_source_key}, {u_purchase},
                         {u_usage}, {u_amount}, {u_bonus}, {u_stamp}, {u_at})
    SELECT receipt.{account}, ref.{r_rule}, ref.{r_id}, receipt.{customer}, 'receipt_add', receipt.{uuid}::text,
           receipt.{receipt_id}, {usage_figure}, {amount_figure}, {bonus_figure}, {stamp_figure}, receipt.{purchase_at}
    FROM {batch} batch
    CROSS JOIN LATERAL unnest(batch.{discounted_pks}) AS stored(pk)
    JOIN {receipt} receipt ON receipt.{id} = stored.pk
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(receipt.{document} -> 'discounts') = 'array'
        THEN receipt.{document} -> 'discounts' ELSE '[]'::jsonb END) AS discount(doc)
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(discount.doc -> 'refs') = 'array'
        THEN discount.doc -> 'refs' ELSE '[]'::jsonb END) AS used(doc)
    JOIN {ref} ref ON ref.{r_id} = (CASE WHEN used.doc ->> 'id' ~ {uuid_pattern} THEN (used.doc ->> 'id')::uuid END)
         AND ref.{r_account} = receipt.{account}
    WHERE batch.{b_account} = %(account)s::int AND batch.{b_id} = ANY(%(batches)s::bigint[])
      AND receipt.{account} = %(account)s::int AND receipt.{is_purchase}
      AND (discount.doc ->> 'id' IS NULL OR lower(discount.doc ->> 'id') = ref.{r_rule}::text)
      AND (ref.{r_customer} = receipt.{customer} OR ref.{r_customer} = '/'
           OR (ref.{r_customer} = '*' AND receipt.{customer} IS NOT NULL))
    ON CONFLICT DO NOTHING
"""
).format(
    **_USAGE,
    **_REF,
    batch=table(IngestBatch),
    b_id=column(IngestBatch, "id"),
    b_account=column(IngestBatch, "account"),
    discounted_pks=column(IngestBatch, "discounted_pks"),
    receipt=table(Receipt),
    id=column(Receipt, "id"),
    account=column(Receipt, "account"),
    uuid=column(Receipt, "uuid"),
    receipt_id=column(Receipt, "receipt_id"),
    customer=column(Receipt, "customer_id"),
    purchase_at=column(Receipt, "purchase_at"),
    is_purchase=column(Receipt, "is_purchase"),
    document=column(Receipt, "document"),
    uuid_pattern=sql.Literal(_UUID),
    usage_figure=_figure("used.doc -> 'usage'", 1, 2**31 - 1),
    amount_figure=_figure("used.doc -> 'amount'", 0, 2**62),
    bonus_figure=_figure("used.doc -> 'bonus'", 0, 2**62),
    stamp_figure=_figure("used.doc -> 'stamp'", 0, 2**31 - 1),
)

# The batches of account `%(account)s` after `%(after)s` not in `%(done)s` (bigint[]), and whether each is older
# than `%(settled)s` (so nothing can still commit below it). → (id, settled)
PENDING_BATCHES = sql.SQL(
    """
    SELECT batch.{b_id}, batch.{b_created} < %(settled)s::timestamptz FROM {batch} batch
    WHERE batch.{b_account} = %(account)s::int AND batch.{b_id} > %(after)s::bigint
      AND NOT (batch.{b_id} = ANY(%(done)s::bigint[]))
    ORDER BY batch.{b_id}
"""
).format(
    batch=table(IngestBatch),
    b_id=column(IngestBatch, "id"),
    b_account=column(IngestBatch, "account"),
    b_created=column(IngestBatch, "created_at"),
)

# Which of the batches `%(batches)s` are older than `%(settled)s`. → (id)
SETTLED_BATCHES = sql.SQL(
    "SELECT batch.{b_id} FROM {batch} batch WHERE batch.{b_id} = ANY(%(batches)s::bigint[]) "
    "AND batch.{b_created} < %(settled)s::timestamptz"
).format(batch=table(IngestBatch), b_id=column(IngestBatch, "id"), b_created=column(IngestBatch, "created_at"))

# One purchase per (ref, customer, purchase) of the rules `%(rules)s` (uuid[]) of account `%(account)s`.
_PURCHASES = sql.SQL(
    """
    SELECT used.{u_rule} AS rule_id, used.{u_ref} AS ref_id, used.{u_customer} AS customer_id,
           min(used.{u_at}) AS at, max(used.{u_usage}) AS usage, max(used.{u_amount}) AS amount,
           max(used.{u_bonus}) AS bonus, max(used.{u_stamp}) AS stamp
    FROM {usage} used
    WHERE used.{u_account} = %(account)s::int AND used.{u_rule} = ANY(%(rules)s::uuid[]) AND used.{u_released} IS NULL
    GROUP BY used.{u_rule}, used.{u_ref}, used.{u_customer}, used.{u_purchase}
"""
).format(**_USAGE)

# Per rule of `%(rules)s`: its purchases' totals. → (rule id, purchases, usage, amount, bonus, stamp)
RULE_STATISTICS = sql.SQL(
    """
    WITH purchase AS ({purchases})
    SELECT rule_id, count(*), sum(usage), sum(amount), sum(bonus), sum(stamp) FROM purchase GROUP BY rule_id
"""
).format(purchases=_PURCHASES)

# Per `discount_debit` rule of `%(rules)s` with its reward `%(values)s` (bigint[], in the same order): what is left on
# its live refs given to one customer each (`*` and `/` refs are everyone's; their balance is per customer).
# → (rule id, debit balance)
RULE_DEBIT = sql.SQL(
    """
    SELECT debit.rule_id, coalesce(sum(greatest(debit.value - coalesce(spent.amount, 0), 0)), 0)
    FROM unnest(%(rules)s::uuid[], %(values)s::bigint[]) AS debit(rule_id, value)
    JOIN {ref} ref ON ref.{r_rule} = debit.rule_id AND ref.{r_account} = %(account)s::int
         AND ref.{r_deleted} IS NULL AND ref.{r_customer} NOT IN ('*', '/')
    LEFT JOIN LATERAL (
        SELECT sum(purchase.amount) AS amount FROM (
            SELECT max(used.{u_amount}) AS amount FROM {usage} used
            WHERE used.{u_account} = %(account)s::int AND used.{u_ref} = ref.{r_id} AND used.{u_released} IS NULL
            GROUP BY used.{u_purchase}) purchase) spent ON true
    GROUP BY debit.rule_id
"""
).format(**_USAGE, **_REF)

# A rule's redemptions per day in `%(tz)s` since `%(since)s`. → (day, purchases, usage, amount)
RULE_DAYS = sql.SQL(
    """
    WITH purchase AS ({purchases})
    SELECT (at AT TIME ZONE %(tz)s::text)::date AS day, count(*), sum(usage), sum(amount) FROM purchase
    WHERE at >= %(since)s::timestamptz AND usage > 0
    GROUP BY day ORDER BY day
"""
).format(purchases=_PURCHASES)

# A rule's customers who used it most (by rewards, then amount). → (customer id, purchases, usage, amount, last at)
RULE_TOP_CUSTOMERS = sql.SQL(
    """
    WITH purchase AS ({purchases})
    SELECT customer_id, count(*), sum(usage), sum(amount), max(at) FROM purchase
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id ORDER BY sum(usage) DESC, sum(amount) DESC, customer_id LIMIT %(limit)s
"""
).format(purchases=_PURCHASES)

# A rule's usages (one per ref and customer that used it), ordered by (ref, customer), after the key
# (`%(after_ref)s`, `%(after_customer)s`), at most `%(limit)s`; their live ledger rows in `rows` as JSON.
# → (ref id, customer id (NULL: none), the ref's own customer, first at, last created, rows[])
RULE_USAGES = sql.SQL(
    """
    WITH page AS (
        SELECT used.{u_ref} AS ref_id, coalesce(used.{u_customer}, '') AS customer_key
        FROM {usage} used
        WHERE used.{u_account} = %(account)s::int AND used.{u_rule} = %(rule)s::uuid AND used.{u_released} IS NULL
          AND (used.{u_ref}, coalesce(used.{u_customer}, '')) > (%(after_ref)s::uuid, %(after_customer)s::text)
        GROUP BY 1, 2 ORDER BY 1, 2 LIMIT %(limit)s)
    SELECT page.ref_id, page.customer_key, ref.{r_customer},
           jsonb_agg(jsonb_build_object('id', used.{u_id}, 'source', used.{u_source}, 'key', used.{u_source_key},
                                        'purchase', used.{u_purchase}, 'usage', used.{u_usage},
                                        'amount', used.{u_amount}, 'bonus', used.{u_bonus}, 'stamp', used.{u_stamp},
                                        'at', used.{u_at}, 'created_at', used.{u_created})
                     ORDER BY used.{u_id})
    FROM page
    JOIN {ref} ref ON ref.{r_id} = page.ref_id
    JOIN {usage} used ON used.{u_account} = %(account)s::int AND used.{u_ref} = page.ref_id
         AND coalesce(used.{u_customer}, '') = page.customer_key AND used.{u_released} IS NULL
    GROUP BY page.ref_id, page.customer_key, ref.{r_customer}
    ORDER BY page.ref_id, page.customer_key
"""
).format(
    **_USAGE,
    **_REF,
    u_id=column(DiscountUsage, "id"),
    u_created=column(DiscountUsage, "created_at"),
)

# The claims (by id) of `%(claims)s` (uuid[]) and who made them, for the usages' created_by. → (id, created_by)
CLAIM_AUTHORS = sql.SQL(
    "SELECT claim.{id}::text, claim.{by} FROM {claim} claim WHERE claim.{id} = ANY(%(claims)s::uuid[])"
).format(claim=table(DiscountClaim), id=column(DiscountClaim, "id"), by=column(DiscountClaim, "created_by"))
