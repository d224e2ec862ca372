"""Statements of the read models' maintenance (`receipts.readmodels.maintenance`)."""

from __future__ import annotations

from loyalty.core.sql import sql
from receipts.models import ItemFact
from receipts.sql import statement

_FACTS = sql.Literal(ItemFact._meta.db_table)

# The item facts' primary key: name, pages now, row estimate, and its key columns' (typlen, typalign) in order.
FACTS_INDEX = statement(
    """
    SELECT i.relname, pg_relation_size(i.oid) / current_setting('block_size')::int, i.reltuples,
           array(
               SELECT ARRAY[t.typlen::text, t.typalign::text]
               FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
               JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
               JOIN pg_type t ON t.oid = a.atttypid
               ORDER BY k.n
           )
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid = {facts}::regclass AND x.indisprimary
    """,
    facts=_FACTS,
)
# Copies a REINDEX CONCURRENTLY of the item facts' indexes left behind when it was interrupted.
INVALID_LEFTOVERS = statement(
    """
    SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid = {facts}::regclass AND NOT x.indisvalid AND i.relname LIKE '%%\\_ccnew%%'
    """,
    facts=_FACTS,
)

# Params: the lock's key.
TRY_LOCK = "SELECT pg_try_advisory_lock(%s)"


def reindex(index: str) -> str:
    return statement("REINDEX INDEX CONCURRENTLY {index}", index=sql.Identifier(index))


def drop_index(index: str) -> str:
    return statement("DROP INDEX CONCURRENTLY IF EXISTS {index}", index=sql.Identifier(index))
