"""The statements of a bulk load whose read models are built when it ends (`receipts.services.deferred`): a chunk's
COPY into the staging table, and the set-based build that moves the staged chunks into the read models."""

from __future__ import annotations

from loyalty.core.sql import column, columns, copy_columns, sql
from receipts.models import (
    CodeBuyer,
    Customer,
    IngestBatch,
    ItemCode,
    ItemFact,
    PurchaseWindow,
    Receipt,
    StagedChunk,
    WindowStat,
)
from receipts.sql import read_models, statement

# The fields of a chunk's COPY line, in the order `services.deferred` writes them.
CHUNK_FIELDS = copy_columns(StagedChunk, exclude=("id",))
COPY_CHUNK = statement(
    "COPY {c} ({columns}) FROM STDIN", {"c": StagedChunk}, columns=columns(StagedChunk, list(CHUNK_FIELDS))
)

# The build holds the staging table alone: no chunk stages a row it would not see, no window build reads it
# half-moved, and two builds never move the same rows. Readers of the read models are not held up.
LOCK_STAGING = statement("LOCK TABLE {c} IN ACCESS EXCLUSIVE MODE", {"c": StagedChunk})
# Whether anything is staged for an account. Params (named): account.
ANY_STAGED = statement("SELECT EXISTS (SELECT 1 FROM {c} WHERE {c.account} = %(account)s)", {"c": StagedChunk})
# Whether another account has staged chunks (then the build deletes its own instead of truncating).
OTHERS_STAGED = statement("SELECT EXISTS (SELECT 1 FROM {c} WHERE {c.account} <> %(account)s)", {"c": StagedChunk})

_FACTS = """
    SELECT f.* FROM {c} c,
        unnest(c.{c.fact_codes}, c.{c.fact_times}, c.{c.fact_stores}, c.{c.fact_customers}, c.{c.fact_receipts})
        AS f(code, purchase_at, store_code, customer_pk, receipt_pk)
    WHERE c.{c.account} = %(account)s
"""
# Item facts in index order: each code's new entries go in together (and, consecutive in the heap too, fill the
# pages they split). Params (named): account.
BUILD_FACTS = statement(
    f"""
    INSERT INTO {{f}} ({{columns}})
    SELECT %(account)s, code, purchase_at, store_code, customer_pk, receipt_pk FROM ({_FACTS}) staged
    ORDER BY code, purchase_at
    """,
    {"f": ItemFact, "c": StagedChunk},
    columns=columns(ItemFact, list(copy_columns(ItemFact))),
)
# The load's purchases counted into the buyers of kept codes (read_models.buyers_add for the whole load).
# Params (named): account.
BUILD_BUYERS = statement(
    f"""
    INSERT INTO {{b}} AS b ({{b.account}}, {{b.code}}, {{b.customer}}, {{b.customer_external_id}}, {{b.purchases}})
    SELECT %(account)s, bought.code, bought.customer_pk, cu.{{cu.customer_id}}, bought.n
    FROM (
        SELECT staged.code, staged.customer_pk, count(*) AS n
        FROM ({_FACTS}) staged JOIN {{code}} k ON k.{{code.id}} = staged.code
        WHERE k.{{code.account}} = %(account)s AND k.{{code.buyers_since}} IS NOT NULL
        GROUP BY 1, 2
    ) bought JOIN {{cu}} cu ON cu.{{cu.id}} = bought.customer_pk
    ORDER BY 2, 3
    ON CONFLICT ({{b.account}}, {{b.code}}, {{b.customer}})
    DO UPDATE SET {{b.purchases}} = b.{{b.purchases}} + EXCLUDED.{{b.purchases}}
    """,
    {"b": CodeBuyer, "c": StagedChunk, "code": ItemCode, "cu": Customer},
)
# The staged purchases added to every window they fall in (read_models.windows_add_receipts for the whole load).
# Params (named): account.
BUILD_WINDOWS = statement(
    """
    INSERT INTO {s} ({s.window}, {s.customer}, {s.purchases}, {s.net_total}, {s.gross_total})
    SELECT w.{w.id}, p.customer_pk, count(*), coalesce(sum(p.net), 0), coalesce(sum(p.gross), 0)
    FROM {w} w
    JOIN (
        SELECT p.* FROM {c} c,
            unnest(c.{c.purchase_customers}, c.{c.purchase_times}, c.{c.purchase_nets}, c.{c.purchase_grosses})
            AS p(customer_pk, purchase_at, net, gross)
        WHERE c.{c.account} = %(account)s
    ) p
      ON (w.{w.starts_at} IS NULL OR p.purchase_at >= w.{w.starts_at})
     AND (w.{w.ends_at} IS NULL OR p.purchase_at < w.{w.ends_at})
    WHERE w.{w.account} = %(account)s
    GROUP BY w.{w.id}, p.customer_pk
    ORDER BY w.{w.id}, p.customer_pk
    ON CONFLICT ({s.window}, {s.customer}) DO UPDATE
    SET {s.purchases} = {s}.{s.purchases} + EXCLUDED.{s.purchases},
        {s.net_total} = {s}.{s.net_total} + EXCLUDED.{s.net_total},
        {s.gross_total} = {s}.{s.gross_total} + EXCLUDED.{s.gross_total}
    """,
    {"s": WindowStat, "w": PurchaseWindow, "c": StagedChunk},
)
_DELTAS = """
    SELECT d.* FROM {c} c,
        unnest(c.{c.delta_customers}, c.{c.delta_receipts}, c.{c.delta_purchases}, c.{c.delta_grosses},
               c.{c.delta_nets}, c.{c.delta_first_at}, c.{c.delta_last_at}, c.{c.profile_at}, c.{c.profile_ranks},
               c.{c.profile_receipts})
        AS d(customer_pk, receipts, purchases, gross, net, first_at, last_at, profile_at, rank, profile_receipt)
    WHERE c.{c.account} = %(account)s
"""
# The customers the load touched, locked in id order (as read_models.customers_lock). Params (named): account.
LOCK_CUSTOMERS = statement(
    f"""
    SELECT 1 FROM {{customer}}
    WHERE {{customer.id}} IN (SELECT customer_pk FROM ({_DELTAS}) staged)
    ORDER BY {{customer.id}} FOR UPDATE
    """,
    {"customer": Customer, "c": StagedChunk},
)
DELTAS_CREATE = read_models.DELTAS_CREATE
# Per customer, the sum of the chunks' counters into read_models' `customer_deltas` (customer objects: below).
# Params (named): account.
DELTAS_FILL = statement(
    f"""
    INSERT INTO customer_deltas (pk, receipts, purchases, gross, net, first_at, last_at)
    SELECT customer_pk, sum(receipts), sum(purchases), sum(gross), sum(net), min(first_at), max(last_at)
    FROM ({_DELTAS}) staged
    GROUP BY customer_pk
    """,
    {"c": StagedChunk},
)
# Per customer, the customer object of the load's latest receipt that had one (by purchase time, then rank), as
# JSON text. Params (named): account.
LATEST_PROFILES = statement(
    f"""
    SELECT latest.customer_pk, latest.profile_at, (r.{{r.document}} -> 'customer')::text
    FROM (
        SELECT DISTINCT ON (customer_pk) customer_pk, profile_at, profile_receipt
        FROM ({_DELTAS}) staged
        WHERE profile_at IS NOT NULL
        ORDER BY customer_pk, profile_at DESC, rank DESC
    ) latest
    JOIN {{r}} r ON r.{{r.id}} = latest.profile_receipt
    """,
    {"c": StagedChunk, "r": Receipt},
)
PROFILES_CREATE = read_models.PROFILES_CREATE
PROFILES_COPY = read_models.PROFILES_COPY
_PROFILE_NAMES = [source for _, source, _ in read_models.PROFILE_COLUMNS]
# The customer objects (in profile_updates) into the customers' deltas.
DELTAS_TAKE_PROFILES = statement(
    "UPDATE customer_deltas d SET {assignments} FROM profile_updates p WHERE d.pk = p.pk",
    assignments=sql.SQL(", ").join(
        [sql.SQL("{} = p.{}").format(sql.Identifier(name), sql.Identifier(name)) for name in _PROFILE_NAMES]
    ),
)
PROFILES_DROP = read_models.PROFILES_DROP
DELTAS_APPLY = read_models.DELTAS_APPLY
DELTAS_DROP = read_models.DELTAS_DROP

_BATCH_FIELDS = [
    "account",
    "source",
    "created_by",
    "received",
    "stored",
    "duplicates",
    "customer_pks",
    "purchase_from",
    "purchase_to",
    "receipt_pks",
    "discounted_pks",
]
# The chunks' IngestBatch rows, in the order they were stored. Params (named): account.
BUILD_BATCHES = statement(
    """
    INSERT INTO {batch} ({batch_columns})
    SELECT {chunk_columns} FROM {chunk} WHERE {chunk.account} = %(account)s ORDER BY {chunk.id}
    RETURNING {batch.id}
    """,
    {"batch": IngestBatch, "chunk": StagedChunk},
    batch_columns=columns(IngestBatch, _BATCH_FIELDS),
    chunk_columns=columns(StagedChunk, _BATCH_FIELDS),
)
CLEAR_ACCOUNT = statement("DELETE FROM {c} WHERE {c.account} = %(account)s", {"c": StagedChunk})
CLEAR_ALL = statement("TRUNCATE {c}", {"c": StagedChunk})

# For window builds: leave out the purchases of chunks whose read models are not built yet.
NOT_STAGED = sql.SQL(
    "NOT EXISTS (SELECT 1 FROM {staged} c, unnest(c.{receipts}) AS s(receipt_pk) WHERE s.receipt_pk = {receipt}.{id})"
).format(
    staged=sql.Identifier(StagedChunk._meta.db_table),
    receipts=column(StagedChunk, "purchase_receipts"),
    receipt=sql.Identifier(Receipt._meta.db_table),
    id=column(Receipt, "id"),
)
