"""The statements that keep the read models exact inside a write's transaction (`receipts.services.read_models`):
item codes, customers (counters and latest customer object), item facts, code buyers and purchase windows."""

from __future__ import annotations

from loyalty.core.sql import column, sql
from receipts.models import CodeBuyer, Customer, ItemCode, ItemFact, PurchaseWindow, Receipt, WindowStat
from receipts.sql import reads, statement

# --- item codes ---

# Params: account id, kinds, values, names.
CODES_INSERT = statement(
    """
    INSERT INTO {code} ({code.account}, {code.kind}, {code.value}, {code.name})
    SELECT %s, k, v, n FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(k, v, n)
    ON CONFLICT ({code.account}, {code.kind}, {code.value}) DO NOTHING
    """,
    {"code": ItemCode},
)
# Params: kinds, values, account id.
CODES_FIND = reads.CODES_EXISTING
# The codes whose buyers are kept. Params: account id.
CODES_KEPT = statement(
    "SELECT {code.id} FROM {code} WHERE {code.account} = %s AND {code.buyers_since} IS NOT NULL", {"code": ItemCode}
)

# --- customers ---

# Params: account id, customer ids.
CUSTOMERS_FIND = statement(
    "SELECT {c.customer_id}, {c.id} FROM {c} WHERE {c.account} = %s AND {c.customer_id} = ANY(%s)", {"c": Customer}
)
# Empty profiles for new customers; their counters are added by the write that stored their receipts.
# Params: account id, customer ids.
CUSTOMERS_INSERT = statement(
    """
    INSERT INTO {c} (
        {c.account}, {c.customer_id}, {c.profile}, {c.first_name}, {c.last_name}, {c.email}, {c.phone}, {c.gender},
        {c.status}, {c.countries}, {c.cities}, {c.postal_codes}, {c.token_values},
        {c.receipts_count}, {c.purchases}, {c.gross_total}, {c.net_total}, {c.created_at}, {c.updated_at})
    SELECT %s, cid, '{{}}'::jsonb, '', '', '', '', '', '', '{{}}', '{{}}', '{{}}', '{{}}', 0, 0, 0, 0, now(), now()
    FROM unnest(%s::text[]) AS cid
    ON CONFLICT ({c.account}, {c.customer_id}) DO NOTHING
    """,
    {"c": Customer},
)
# Params: customer pks.
CUSTOMERS_LOCK = statement("SELECT 1 FROM {c} WHERE {c.id} = ANY(%s) ORDER BY {c.id} FOR UPDATE", {"c": Customer})
# Every counter from the customers' receipts. Params: customer pks.
CUSTOMERS_RECOMPUTE = statement(
    """
    UPDATE {c} c
    SET {c.receipts_count} = coalesce(agg.receipts, 0),
        {c.purchases} = coalesce(agg.purchases, 0),
        {c.gross_total} = coalesce(agg.gross, 0),
        {c.net_total} = coalesce(agg.net, 0),
        {c.first_purchase_at} = agg.first_at,
        {c.last_purchase_at} = agg.last_at,
        {c.updated_at} = now()
    FROM unnest(%s::int[]) AS target(pk)
    LEFT JOIN LATERAL (
        SELECT count(*) AS receipts,
               count(*) FILTER (WHERE {r.is_purchase}) AS purchases,
               sum({r.gross_amount}) FILTER (WHERE {r.is_purchase}) AS gross,
               sum({r.net_amount}) FILTER (WHERE {r.is_purchase}) AS net,
               min({r.purchase_at}) FILTER (WHERE {r.is_purchase}) AS first_at,
               max({r.purchase_at}) FILTER (WHERE {r.is_purchase}) AS last_at
        FROM {r} r WHERE r.{r.customer_pk} = target.pk
    ) agg ON true
    WHERE c.{c.id} = target.pk
    """,
    {"c": Customer, "r": Receipt},
)

# The fields a customer object sets: (Customer field, its column in the COPY tables, its type there), in the order
# `services.read_models.profile_copy_fields` writes them.
PROFILE_COLUMNS = (
    ("profile_at", "at", "timestamptz"),
    ("profile", "doc", "jsonb"),
    ("first_name", "first_name", "text"),
    ("last_name", "last_name", "text"),
    ("email", "email", "text"),
    ("phone", "phone", "text"),
    ("gender", "gender", "text"),
    ("date_of_birth", "dob", "date"),
    ("status", "status", "text"),
    ("countries", "countries", "text[]"),
    ("cities", "cities", "text[]"),
    ("postal_codes", "postal_codes", "text[]"),
    ("token_values", "token_values", "text[]"),
    ("email_consent", "email_consent", "bool"),
    ("sms_consent", "sms_consent", "bool"),
)
_PROFILE_TABLE = sql.SQL(", ").join(
    [sql.SQL("{} {}").format(sql.Identifier(source), sql.SQL(kind)) for _, source, kind in PROFILE_COLUMNS]
)
_PROFILE_SET = sql.SQL(", ").join(
    [sql.SQL("{} = p.{}").format(column(Customer, name), sql.Identifier(source)) for name, source, _ in PROFILE_COLUMNS]
)
# As PROFILES_UPDATE's condition: a delta's customer object replaces the stored one unless that one is newer.
_TAKE_PROFILE = sql.SQL("d.at IS NOT NULL AND (c.{at} IS NULL OR c.{at} <= d.at)").format(
    at=column(Customer, "profile_at")
)
_PROFILE_TAKE_SET = sql.SQL(", ").join(
    [
        sql.SQL("{column} = CASE WHEN {take} THEN d.{source} ELSE c.{column} END").format(
            column=column(Customer, name), take=_TAKE_PROFILE, source=sql.Identifier(source)
        )
        for name, source, _ in PROFILE_COLUMNS
    ]
)

PROFILES_CREATE = statement(
    "CREATE TEMP TABLE IF NOT EXISTS profile_updates (pk int, {columns}) ON COMMIT DROP", columns=_PROFILE_TABLE
)
PROFILES_COPY = "COPY profile_updates FROM STDIN"
PROFILES_UPDATE = statement(
    """
    UPDATE {c} c SET {assignments}, {c.updated_at} = now()
    FROM profile_updates p
    WHERE c.{c.id} = p.pk AND (c.{c.profile_at} IS NULL OR c.{c.profile_at} <= p.at)
      AND (c.{c.profile} IS DISTINCT FROM p.doc OR c.{c.profile_at} IS DISTINCT FROM p.at)
    """,
    {"c": Customer},
    assignments=_PROFILE_SET,
)
PROFILES_DROP = "DROP TABLE profile_updates"

# Per customer, the customer object of their most recent receipt (by purchase time, then id: the later stored of two
# at one instant, as an ingest keeps it) that has one: a backward scan of the (customer, purchase_at, id) index
# that stops at the first such receipt; the object as JSON text. A customer without one gets NULLs. Params:
# customer pks.
PROFILES_LATEST = statement(
    """
    SELECT target.pk, latest.at, latest.doc
    FROM unnest(%s::int[]) AS target(pk)
    LEFT JOIN LATERAL (
        SELECT r.{r.purchase_at} AS at, (r.{r.document} -> 'customer')::text AS doc
        FROM {r} r
        WHERE r.{r.customer_pk} = target.pk
          AND jsonb_typeof(r.{r.document} -> 'customer') = 'object'
          AND r.{r.document} -> 'customer' <> jsonb_build_object()
        ORDER BY r.{r.purchase_at} DESC, r.{r.id} DESC
        LIMIT 1
    ) latest ON true
    """,
    {"r": Receipt},
)
# The empty value of each kind of profile column a customer without a customer object gets (nullable columns get
# NULL).
_EMPTY = {"text": sql.SQL("''"), "text[]": sql.SQL("ARRAY[]::text[]"), "jsonb": sql.SQL("jsonb_build_object()")}
_PROFILE_REPLACE_SET = sql.SQL(", ").join(
    [
        sql.SQL("{} = {}").format(
            column(Customer, name),
            sql.SQL("p.{}").format(sql.Identifier(source))
            if Customer._meta.get_field(name).null
            else sql.SQL("coalesce(p.{}, {})").format(sql.Identifier(source), _EMPTY[kind]),
        )
        for name, source, kind in PROFILE_COLUMNS
    ]
)
# Every listed customer's profile replaced by the one derived again from their receipts (profile_updates: NULLs for
# a customer left without a customer object).
PROFILES_REPLACE = statement(
    """
    UPDATE {c} c SET {assignments}, {c.updated_at} = now()
    FROM profile_updates p
    WHERE c.{c.id} = p.pk
    """,
    {"c": Customer},
    assignments=_PROFILE_REPLACE_SET,
)

DELTAS_CREATE = statement(
    """
    CREATE TEMP TABLE IF NOT EXISTS customer_deltas (pk int, receipts int, purchases int, gross numeric,
        net numeric, first_at timestamptz, last_at timestamptz, {columns}) ON COMMIT DROP
    """,
    columns=_PROFILE_TABLE,
)
DELTAS_COPY = "COPY customer_deltas FROM STDIN"
DELTAS_APPLY = statement(
    """
    UPDATE {c} c SET
        {c.receipts_count} = c.{c.receipts_count} + d.receipts, {c.purchases} = c.{c.purchases} + d.purchases,
        {c.gross_total} = c.{c.gross_total} + d.gross, {c.net_total} = c.{c.net_total} + d.net,
        {c.first_purchase_at} = least(c.{c.first_purchase_at}, d.first_at),
        {c.last_purchase_at} = greatest(c.{c.last_purchase_at}, d.last_at), {profile}, {c.updated_at} = now()
    FROM customer_deltas d
    WHERE c.{c.id} = d.pk
    """,
    {"c": Customer},
    profile=_PROFILE_TAKE_SET,
)
DELTAS_DROP = "DROP TABLE customer_deltas"

# --- item facts ---

# Params: account id, codes, purchase times, store codes, customer pks, receipt pks.
FACTS_INSERT = statement(
    """
    INSERT INTO {f} ({f.account}, {f.code}, {f.purchase_at}, {f.store_code}, {f.customer}, {f.receipt})
    SELECT %s, * FROM unnest(%s::int[], %s::timestamptz[], %s::int[], %s::int[], %s::bigint[])
    """,
    {"f": ItemFact},
)
# A receipt's facts found through the index by code and time. Params: customer pk, account id, codes, purchase
# time, receipt pk.
FACTS_MOVE = statement(
    """
    UPDATE {f} SET {f.customer} = %s
    WHERE {f.account} = %s AND {f.code} = ANY(%s) AND {f.purchase_at} = %s AND {f.receipt} = %s
    """,
    {"f": ItemFact},
)

# --- code buyers ---

# Params: account id, codes, customer pks, purchases (one row per code and customer).
BUYERS_ADD = statement(
    """
    INSERT INTO {b} AS b ({b.account}, {b.code}, {b.customer}, {b.customer_external_id}, {b.purchases})
    SELECT %s, t.code, t.customer_pk, c.{c.customer_id}, t.n
    FROM unnest(%s::int[], %s::int[], %s::int[]) AS t(code, customer_pk, n) JOIN {c} c ON c.{c.id} = t.customer_pk
    ORDER BY 2, 3
    ON CONFLICT ({b.account}, {b.code}, {b.customer})
    DO UPDATE SET {b.purchases} = b.{b.purchases} + EXCLUDED.{b.purchases}
    """,
    {"b": CodeBuyer, "c": Customer},
)
# A purchase with these codes left the customer: one purchase fewer of each, and no buyer row once none is left.
# Params (named): account, customer, codes.
BUYERS_REMOVE_PURCHASE = statement(
    """
    WITH gone AS (
        DELETE FROM {b} b
        WHERE b.{b.account} = %(account)s AND b.{b.customer} = %(customer)s AND b.{b.code} = ANY(%(codes)s)
          AND b.{b.purchases} = 1
    )
    UPDATE {b} b SET {b.purchases} = b.{b.purchases} - 1
    WHERE b.{b.account} = %(account)s AND b.{b.customer} = %(customer)s AND b.{b.code} = ANY(%(codes)s)
      AND b.{b.purchases} > 1
    """,
    {"b": CodeBuyer},
)

# --- purchase windows ---

# Params: receipt pks, account id.
WINDOWS_ADD_RECEIPTS = statement(
    """
    INSERT INTO {s} ({s.window}, {s.customer}, {s.purchases}, {s.net_total}, {s.gross_total})
    SELECT w.{w.id}, r.{r.customer_pk}, count(*), coalesce(sum(r.{r.net_amount}), 0),
           coalesce(sum(r.{r.gross_amount}), 0)
    FROM {w} w
    JOIN {r} r
      ON r.{r.id} = ANY(%s) AND r.{r.is_purchase} AND r.{r.customer_pk} IS NOT NULL
     AND (w.{w.starts_at} IS NULL OR r.{r.purchase_at} >= w.{w.starts_at})
     AND (w.{w.ends_at} IS NULL OR r.{r.purchase_at} < w.{w.ends_at})
    WHERE w.{w.account} = %s
    GROUP BY w.{w.id}, r.{r.customer_pk}
    ORDER BY w.{w.id}, r.{r.customer_pk}
    ON CONFLICT ({s.window}, {s.customer}) DO UPDATE
    SET {s.purchases} = {s}.{s.purchases} + EXCLUDED.{s.purchases},
        {s.net_total} = {s}.{s.net_total} + EXCLUDED.{s.net_total},
        {s.gross_total} = {s}.{s.gross_total} + EXCLUDED.{s.gross_total}
    """,
    {"s": WindowStat, "w": PurchaseWindow, "r": Receipt},
)
# Params: account id, instants.
WINDOWS_FORGET_COVERING = statement(
    """
    WITH gone AS (
        DELETE FROM {w} w
        WHERE w.{w.account} = %s AND EXISTS (
            SELECT 1 FROM unnest(%s::timestamptz[]) AS t(at)
            WHERE (w.{w.starts_at} IS NULL OR t.at >= w.{w.starts_at}) AND (w.{w.ends_at} IS NULL OR t.at < w.{w.ends_at}))
        RETURNING w.{w.id}
    )
    DELETE FROM {s} s USING gone WHERE s.{s.window} = gone.{w.id}
    """,
    {"s": WindowStat, "w": PurchaseWindow},
)
