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

_SEGMENT_JSON = sql.SQL(
    """
    SELECT '{{"customers":[' || coalesce(string_agg(
               '{{"customer_id":' || to_json(c.{customer.customer_id})::text || ',"purchases":' || m.purchases || '}}',
               ',' ORDER BY m.purchases DESC, c.{customer.customer_id}), '') || ']}}'
    FROM ({per_customer}) m JOIN {customer} c ON c.{customer.id} = m.customer
    """
)
_SEGMENT_PARTS = model_parts(customer=Customer)


def customer_segment_json(per_customer: str) -> str:
    """Dintero's customer_segment body from a compiled queryset of {customer, purchases}: its text, whose values
    stay parameters of the execution."""
    return _SEGMENT_JSON.format(per_customer=sql.SQL(per_customer), **_SEGMENT_PARTS).as_string()


# customer_segment for one code over a period that holds every fact of the code: each buyer's purchases with it, as
# the code buyers count them, read index-only from `code_buyer_most_purchases` in the answer's order (no fact
# counted, no join, no sort). NULL unless the code's buyers are kept and its first and last facts lie in the period,
# checked in the statement's own snapshot: no purchase stored between the check and the read can be counted outside
# the period. Params (named): account, code, from, to.
CUSTOMER_SEGMENT_FROM_BUYERS = statement(
    """
    SELECT CASE WHEN
        (SELECT k.{code.buyers_since} IS NOT NULL FROM {code} k
         WHERE k.{code.id} = %(code)s AND k.{code.account} = %(account)s)
        AND (%(from)s::timestamptz IS NULL OR %(from)s::timestamptz <= (
            SELECT min(f.{fact.purchase_at}) FROM {fact} f
            WHERE f.{fact.account} = %(account)s AND f.{fact.code} = %(code)s
        ))
        AND (%(to)s::timestamptz IS NULL OR %(to)s::timestamptz >= (
            SELECT max(f.{fact.purchase_at}) FROM {fact} f
            WHERE f.{fact.account} = %(account)s AND f.{fact.code} = %(code)s
        ))
    THEN (
        SELECT '{{"customers":[' || coalesce(string_agg(
                   '{{"customer_id":' || to_json(b.{buyer.customer_external_id})::text
                   || ',"purchases":' || b.{buyer.purchases} || '}}',
                   ',' ORDER BY b.{buyer.purchases} DESC, b.{buyer.customer_external_id}), '') || ']}}'
        FROM {buyer} b WHERE b.{buyer.account} = %(account)s AND b.{buyer.code} = %(code)s
    ) END
    """,
    {"code": ItemCode, "fact": ItemFact, "buyer": CodeBuyer},
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
