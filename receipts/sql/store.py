"""The write path's statements (`receipts.services.store`): the receipts' and facts' COPY, the probe of the unique
key, primary keys drawn from the sequence, and the INSERT … ON CONFLICT fallback."""

from __future__ import annotations

from loyalty.core.sql import column, columns, copy_columns, sql, table
from receipts.models import ItemFact, Receipt
from receipts.sql import statement

# The fields a receipt's COPY line carries, in the order `services.store._receipt_lines` writes them (every
# concrete field but the token's claim time, which a new receipt never has).
RECEIPT_FIELDS = copy_columns(Receipt, exclude=("token_claimed_at",))
# The fields of an item fact's COPY line, in the order `services.store._fact_lines` writes them.
FACT_FIELDS = copy_columns(ItemFact)

RECEIPT_COLUMNS = columns(Receipt, RECEIPT_FIELDS)
FACT_COLUMNS = columns(ItemFact, FACT_FIELDS)

NOW = "SELECT now()"

# The transaction's now() and `n` new receipt ids from the table's sequence. Params: n.
NOW_AND_RECEIPT_IDS = statement(
    "SELECT now(), array(SELECT nextval(pg_get_serial_sequence({table}, {id})) FROM generate_series(1, %s))",
    table=sql.Literal(Receipt._meta.db_table),
    id=sql.Literal(Receipt._meta.get_field("id").column),
)

# Which (receipt_id, store_id) pairs are stored. Params: receipt ids, store ids, account id.
EXISTING_KEYS = statement(
    """
    SELECT r.{receipt.receipt_id}, r.{receipt.store_id} FROM unnest(%s::text[], %s::text[]) AS t(rid, sid)
    JOIN {receipt} r ON r.{receipt.account} = %s AND r.{receipt.receipt_id} = t.rid AND r.{receipt.store_id} = t.sid
    """,
    {"receipt": Receipt},
)

COPY_RECEIPTS = statement("COPY {receipt} ({columns}) FROM STDIN", {"receipt": Receipt}, columns=RECEIPT_COLUMNS)
COPY_FACTS = statement("COPY {fact} ({columns}) FROM STDIN", {"fact": ItemFact}, columns=FACT_COLUMNS)

# The fallback when another writer stored some of a batch after the probe: the batch's COPY into a temporary
# table, then INSERT … ON CONFLICT DO NOTHING from it.
_BULK = sql.Identifier("bulk_receipts")
BULK_CREATE = statement(
    "CREATE TEMP TABLE IF NOT EXISTS {bulk} (LIKE {receipt} INCLUDING DEFAULTS) ON COMMIT DROP",
    {"receipt": Receipt},
    bulk=_BULK,
)
BULK_COPY = statement("COPY {bulk} ({columns}) FROM STDIN", bulk=_BULK, columns=RECEIPT_COLUMNS)
BULK_INSERT_NEW = statement(
    """
    INSERT INTO {receipts} ({columns})
    SELECT {columns} FROM {bulk} ORDER BY {id}
    ON CONFLICT ({account}, {receipt_id}, {store_id}) DO NOTHING
    RETURNING {id}
    """,
    receipts=table(Receipt),
    columns=RECEIPT_COLUMNS,
    bulk=_BULK,
    id=column(Receipt, "id"),
    account=column(Receipt, "account"),
    receipt_id=column(Receipt, "receipt_id"),
    store_id=column(Receipt, "store_id"),
)
BULK_DROP = statement("DROP TABLE {bulk}", bulk=_BULK)
