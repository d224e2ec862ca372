"""The statements of a bulk load whose read models are built when it ends (`receipts.services.deferred`): the
chunks' COPY into the staging tables, and the set-based build that moves the staged rows into the read models."""

from __future__ import annotations

from loyalty.core.sql import column, columns, copy_columns, sql
from receipts.models import (
    CodeBuyer,
    Customer,
    IngestBatch,
    ItemCode,
    ItemFact,
    PurchaseWindow,
    StagedChunk,
    StagedCustomerDelta,
    StagedFact,
    StagedPurchase,
    WindowStat,
)
from receipts.sql import read_models, statement
from receipts.sql.read_models import PROFILE_COLUMNS

# The staged facts' COPY lines are the item facts' (`services.store._fact_lines`): the same fields in the same order.
FACT_FIELDS = copy_columns(ItemFact)
COPY_FACTS = statement(
    "COPY {f} ({columns}) FROM STDIN", {"f": StagedFact}, columns=columns(StagedFact, list(FACT_FIELDS))
)
PURCHASE_FIELDS = ("receipt", "account", "customer", "purchase_at", "net_amount", "gross_amount")
COPY_PURCHASES = statement(
    "COPY {p} ({columns}) FROM STDIN", {"p": StagedPurchase}, columns=columns(StagedPurchase, list(PURCHASE_FIELDS))
)
# The counters of `read_models.customer_deltas_text`, the rank, then the profile columns.
DELTA_FIELDS = (
    "account",
    "customer",
    "receipts",
    "purchases",
    "gross_total",
    "net_total",
    "first_purchase_at",
    "last_purchase_at",
    "rank",
    *(name for name, _, _ in PROFILE_COLUMNS),
)
COPY_DELTAS = statement(
    "COPY {d} ({columns}) FROM STDIN",
    {"d": StagedCustomerDelta},
    columns=columns(StagedCustomerDelta, list(DELTA_FIELDS)),
)

_STAGING = (StagedFact, StagedPurchase, StagedCustomerDelta, StagedChunk)
_STAGING_TABLES = sql.SQL(", ").join([sql.Identifier(model._meta.db_table) for model in _STAGING])

# The build holds the staging tables alone: no chunk stages rows it would not see, no window build reads them
# half-moved, and two builds never move the same rows. Readers of the read models are not held up.
LOCK_STAGING = statement("LOCK TABLE {staging} IN ACCESS EXCLUSIVE MODE", staging=_STAGING_TABLES)
# Whether anything is staged for an account. Params: account id.
ANY_STAGED = statement(
    """
    SELECT EXISTS (SELECT 1 FROM {c} WHERE {c.account} = %(account)s)
        OR EXISTS (SELECT 1 FROM {d} WHERE {d.account} = %(account)s)
    """,
    {"c": StagedChunk, "d": StagedCustomerDelta},
)
# Whether another account has staged rows (then the build deletes its own rows instead of truncating).
OTHERS_STAGED = statement("SELECT EXISTS (SELECT 1 FROM {c} WHERE {c.account} <> %(account)s)", {"c": StagedChunk})

# Item facts in index order: each code's new entries go in together. Params (named): account.
BUILD_FACTS = statement(
    """
    INSERT INTO {f} ({columns})
    SELECT {columns} FROM {s} WHERE {s.account} = %(account)s ORDER BY {s.code}, {s.purchase_at}
    """,
    {"f": ItemFact, "s": StagedFact},
    columns=columns(ItemFact, list(FACT_FIELDS)),
)
# The new buyers of kept codes (read_models.buyers_add for the whole load). Params (named): account.
BUILD_BUYERS = statement(
    """
    INSERT INTO {b} ({b.account}, {b.code}, {b.customer})
    SELECT DISTINCT %(account)s, s.{s.code}, s.{s.customer}
    FROM {s} s JOIN {code} c ON c.{code.id} = s.{s.code}
    WHERE s.{s.account} = %(account)s AND c.{code.account} = %(account)s AND c.{code.buyers_since} IS NOT NULL
    ORDER BY 2, 3
    ON CONFLICT DO NOTHING
    """,
    {"b": CodeBuyer, "s": StagedFact, "code": ItemCode},
)
# The staged purchases added to every window they fall in (read_models.windows_add_receipts for the whole load).
# Params (named): account.
BUILD_WINDOWS = statement(
    """
    INSERT INTO {w_stat} ({w_stat.window}, {w_stat.customer}, {w_stat.purchases}, {w_stat.net_total},
                          {w_stat.gross_total})
    SELECT w.{w.id}, p.{p.customer}, count(*), coalesce(sum(p.{p.net_amount}), 0), coalesce(sum(p.{p.gross_amount}), 0)
    FROM {w} w
    JOIN {p} p
      ON p.{p.account} = %(account)s
     AND (w.{w.starts_at} IS NULL OR p.{p.purchase_at} >= w.{w.starts_at})
     AND (w.{w.ends_at} IS NULL OR p.{p.purchase_at} < w.{w.ends_at})
    WHERE w.{w.account} = %(account)s
    GROUP BY w.{w.id}, p.{p.customer}
    ORDER BY w.{w.id}, p.{p.customer}
    ON CONFLICT ({w_stat.window}, {w_stat.customer}) DO UPDATE
    SET {w_stat.purchases} = {w_stat}.{w_stat.purchases} + EXCLUDED.{w_stat.purchases},
        {w_stat.net_total} = {w_stat}.{w_stat.net_total} + EXCLUDED.{w_stat.net_total},
        {w_stat.gross_total} = {w_stat}.{w_stat.gross_total} + EXCLUDED.{w_stat.gross_total}
    """,
    {"w_stat": WindowStat, "w": PurchaseWindow, "p": StagedPurchase},
)
# The customers the load touched, locked in id order (as read_models.customers_lock). Params (named): account.
LOCK_CUSTOMERS = statement(
    """
    SELECT 1 FROM {c} WHERE {c.id} IN (SELECT {d.customer} FROM {d} WHERE {d.account} = %(account)s)
    ORDER BY {c.id} FOR UPDATE
    """,
    {"c": Customer, "d": StagedCustomerDelta},
)
_PROFILE_SELECT = sql.SQL(", ").join(
    [sql.SQL("p.{}").format(column(StagedCustomerDelta, name)) for name, _, _ in PROFILE_COLUMNS]
)
# Per customer, the sum of the chunks' deltas and the customer object of the load's latest receipt that had one, into
# read_models' `customer_deltas` table (then DELTAS_APPLY, as a chunk's write does). Params (named): account.
DELTAS_FILL = statement(
    """
    INSERT INTO customer_deltas
    SELECT t.customer, t.receipts, t.purchases, t.gross, t.net, t.first_at, t.last_at, {profile}
    FROM (
        SELECT {d.customer} AS customer, sum({d.receipts}) AS receipts, sum({d.purchases}) AS purchases,
               sum({d.gross_total}) AS gross, sum({d.net_total}) AS net,
               min({d.first_purchase_at}) AS first_at, max({d.last_purchase_at}) AS last_at
        FROM {d} WHERE {d.account} = %(account)s GROUP BY {d.customer}
    ) t
    LEFT JOIN (
        SELECT DISTINCT ON ({d.customer}) *
        FROM {d} WHERE {d.account} = %(account)s AND {d.profile_at} IS NOT NULL
        ORDER BY {d.customer}, {d.profile_at} DESC, {d.rank} DESC
    ) p ON p.{d.customer} = t.customer
    """,
    {"d": StagedCustomerDelta},
    profile=_PROFILE_SELECT,
)
DELTAS_CREATE = read_models.DELTAS_CREATE
DELTAS_APPLY = read_models.DELTAS_APPLY
DELTAS_DROP = read_models.DELTAS_DROP

_BATCH_FIELDS = (
    "account",
    "source",
    "created_by",
    "received",
    "stored",
    "duplicates",
    "customer_pks",
    "purchase_from",
    "purchase_to",
)
# The chunks' IngestBatch rows, in the order they were stored. Params (named): account.
BUILD_BATCHES = statement(
    """
    INSERT INTO {batch} ({batch_columns})
    SELECT {chunk_columns} FROM {chunk} WHERE {chunk.account} = %(account)s ORDER BY {chunk.id}
    RETURNING {batch.id}
    """,
    {"batch": IngestBatch, "chunk": StagedChunk},
    batch_columns=columns(IngestBatch, list(_BATCH_FIELDS)),
    chunk_columns=columns(StagedChunk, list(_BATCH_FIELDS)),
)
CLEAR_ACCOUNT = [statement("DELETE FROM {t} WHERE {t.account} = %(account)s", {"t": model}) for model in _STAGING]
CLEAR_ALL = statement("TRUNCATE {staging}", staging=_STAGING_TABLES)

# For window builds: leave out the purchases staged by a load whose read models are not built yet. `{receipt}` is
# the receipts table being aggregated.
NOT_STAGED = sql.SQL("NOT EXISTS (SELECT 1 FROM {staged} s WHERE s.{receipt_pk} = {receipt}.{id})")
