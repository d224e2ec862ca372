"""Reads of receipt data that the ORM cannot express."""

from __future__ import annotations

from django.db.models import BigIntegerField, Func

from loyalty.core.sql import sql
from receipts.models import CodeBuyer, Customer, IngestBatch, ItemCode, ItemFact, Receipt
from receipts.sql import model_parts, statement

# (kind, value) pairs → the codes that exist. Params: kinds, values, account id.
CODES_EXISTING = statement(
    """
    SELECT c.{code.id}, c.{code.kind}, c.{code.value}
    FROM unnest(%s::text[], %s::text[]) AS t(k, v)
    JOIN {code} c ON c.{code.account} = %s AND c.{code.kind} = t.k AND c.{code.value} = t.v
    """,
    {"code": ItemCode},
)

# Every customer the batches in a range touched. Params: account id, first batch id, last batch id.
BATCH_CUSTOMERS = statement(
    """
    SELECT DISTINCT unnest({batch.customer_pks}) FROM {batch}
    WHERE {batch.account} = %s AND {batch.id} BETWEEN %s AND %s
    """,
    {"batch": IngestBatch},
)

# Counting per customer by sorting beats hashing here: the broad filter aggregates ~1.3M item facts into ~180k
# customers, which a sorted aggregate does faster than a hash aggregate.
SEGMENT_NO_HASHAGG = "SET LOCAL enable_hashagg = off"

# Dintero's customer_segment body from rows of (customer_id, purchases): most purchases first, then by id.
_SEGMENT_BODY = """
    SELECT '{{"customers":[' || coalesce(string_agg(
               '{{"customer_id":' || to_json(a.customer_id)::text || ',"purchases":' || a.purchases || '}}',
               ',' ORDER BY a.purchases DESC, a.customer_id), '') || ']}}'
    FROM ({answers}) a
"""
_FROM_FACTS = (
    "SELECT c.{customer.customer_id} AS customer_id, m.purchases"
    " FROM ({per_customer}) m JOIN {customer} c ON c.{customer.id} = m.customer"
)
_SEGMENT_PARTS = model_parts(customer=Customer)


def customer_segment_json(per_customer: str) -> str:
    """Dintero's customer_segment body from a compiled queryset of {customer, purchases}: its text, whose values
    stay parameters of the execution."""
    answers = sql.SQL(_FROM_FACTS).format(per_customer=sql.SQL(per_customer), **_SEGMENT_PARTS)
    return sql.SQL(_SEGMENT_BODY).format(answers=answers).as_string()


# customer_segment for one code from its kept buyers' counts: whether the period holds every fact of the code (its
# first and last; NULL without facts), and the body when it does and the buyers are kept (else NULL), in one
# snapshot, so no purchase stored between the check and the read is counted outside the period. The buyers are read
# index-only from `code_buyer_most_purchases`, in the answer's order: no fact counted, no join, no sort.
# Params (named): account, code, from, to.
CUSTOMER_SEGMENT_FROM_BUYERS = statement(
    """
    SELECT span.covered, CASE WHEN span.covered AND k.{code.buyers_since} IS NOT NULL THEN ({body}) END
    FROM (
        SELECT min(f.{fact.purchase_at}) >= coalesce(%(from)s::timestamptz, '-infinity')
           AND max(f.{fact.purchase_at}) <= coalesce(%(to)s::timestamptz, 'infinity') AS covered
        FROM {fact} f WHERE f.{fact.account} = %(account)s AND f.{fact.code} = %(code)s
    ) span, {code} k
    WHERE k.{code.id} = %(code)s AND k.{code.account} = %(account)s
    """,
    {"code": ItemCode, "fact": ItemFact},
    body=sql.SQL(_SEGMENT_BODY).format(
        answers=sql.SQL(
            "SELECT b.{buyer.customer_external_id} AS customer_id, b.{buyer.purchases} AS purchases FROM {buyer} b"
            " WHERE b.{buyer.account} = %(account)s AND b.{buyer.code} = %(code)s"
        ).format(**model_parts(buyer=CodeBuyer))
    ),
)


# What one customer buys most: the lines of their latest purchases (the receipt_customer_time index, newest first,
# at most %(receipts)s receipts), returned lines left out, grouped by item and by group; net per code, most first.
# Params: customer, receipts, limit.
_CUSTOMER_LINES = """
    WITH latest AS (
        SELECT r.{receipt.document} AS document FROM {receipt} r
        WHERE r.{receipt.customer_pk} = %(customer)s AND r.{receipt.is_purchase}
        ORDER BY r.{receipt.purchase_at} DESC, r.{receipt.id} DESC LIMIT %(receipts)s
    ), lines AS (
        SELECT line FROM latest, jsonb_array_elements(
            CASE WHEN jsonb_typeof(latest.document -> 'items') = 'array' THEN latest.document -> 'items' ELSE '[]' END
        ) AS line
        WHERE jsonb_typeof(line) = 'object' AND coalesce(line ->> 'is_return_item', 'false') <> 'true'
    )
"""
_NET = "CASE WHEN jsonb_typeof(line -> 'net_amount') = 'number' THEN (line ->> 'net_amount')::numeric ELSE 0 END"
CUSTOMER_TOP_ITEMS = statement(
    _CUSTOMER_LINES
    + f"""
    SELECT line ->> 'id', max(coalesce(line ->> 'description', '')), count(*), sum({_NET})::bigint
    FROM lines WHERE coalesce(line ->> 'id', '') <> ''
    GROUP BY 1 ORDER BY 4 DESC, 3 DESC, 1 LIMIT %(limit)s
    """,
    {"receipt": Receipt},
)
CUSTOMER_TOP_GROUPS = statement(
    _CUSTOMER_LINES
    + f"""
    SELECT g ->> 'id', max(coalesce(g ->> 'name', '')), count(*), sum({_NET})::bigint
    FROM lines, jsonb_array_elements(
        CASE WHEN jsonb_typeof(line -> 'groups') = 'array' THEN line -> 'groups' ELSE '[]' END
    ) AS g
    WHERE jsonb_typeof(g) = 'object' AND coalesce(g ->> 'id', '') <> ''
    GROUP BY 1 ORDER BY 4 DESC, 3 DESC, 1 LIMIT %(limit)s
    """,
    {"receipt": Receipt},
)


class EpochMicroseconds(Func):
    """A timestamptz as microseconds since 1970 (exact, and in the same order): an int reads faster than a
    datetime through the driver, for a sort key read once per row."""

    template = "(extract(epoch FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()
