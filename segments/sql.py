"""Every raw statement of segments, composed with psycopg.sql; table and column names come from the models.

The engine hands over the SQL Django compiled for a definition (`compiled`, with its params); these statements wrap
it, so values always travel as parameters and nothing here is formatted into text by hand.
"""

from __future__ import annotations

from loyalty.core.sql import Composable, column, sql, table
from receipts.readmodels.prepare import Customer
from segments.models import MembershipSpan, Segment, SegmentMember, SegmentRun

_MEMBER = table(SegmentMember)
_M_SEGMENT = column(SegmentMember, "segment")
_M_VERSION = column(SegmentMember, "version")
_M_CUSTOMER = column(SegmentMember, "customer")
_MEMBER_COLUMNS = sql.SQL(", ").join([_M_SEGMENT, _M_VERSION, _M_CUSTOMER])
FRESH = sql.Identifier("segment_fresh_members")


# --- the builder's preview -----------------------------------------------------------------------------------------


def part_counts(compiled: str, parts: int) -> Composable:
    """The whole definition's count and each part's, over a query selecting one boolean column per part (p0, p1…).

    OFFSET 0 keeps the subquery from being flattened: flattened, PostgreSQL copies each part's expression into every
    FILTER and runs its subqueries once per copy. A part Django knows to match nobody compiles to the integer 0,
    hence the casts."""
    flags = [sql.SQL("s.{}::boolean").format(sql.Identifier(f"p{i}")) for i in range(parts)]
    counts = [
        sql.SQL("count(*) FILTER (WHERE {})").format(sql.SQL(" AND ").join(flags)),
        *(sql.SQL("count(*) FILTER (WHERE {})").format(flag) for flag in flags),
    ]
    return sql.SQL("SELECT {} FROM ({} OFFSET 0) s").format(sql.SQL(", ").join(counts), sql.SQL(compiled))


# --- runs ----------------------------------------------------------------------------------------------------------

TRY_LOCK = sql.SQL("SELECT pg_try_advisory_lock(%s)")
UNLOCK = sql.SQL("SELECT pg_advisory_unlock(%s)")
REPEATABLE_READ = sql.SQL("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
SEGMENT_VERSIONS = sql.SQL("SELECT {}, {} FROM {} WHERE {} = %s").format(
    column(Segment, "current_version"), column(Segment, "definition_version"), table(Segment), column(Segment, "id")
)
# params: new version, segment, current version, affected customers
MEMBERS_KEEP_UNAFFECTED = sql.SQL(
    "INSERT INTO {member} ({columns}) SELECT {segment}, %s, {customer} FROM {member}"
    " WHERE {segment} = %s AND {version} = %s AND NOT ({customer} = ANY(%s))"
).format(member=_MEMBER, columns=_MEMBER_COLUMNS, segment=_M_SEGMENT, version=_M_VERSION, customer=_M_CUSTOMER)
FRESH_CREATE = sql.SQL("CREATE TEMPORARY TABLE {} (customer_pk integer NOT NULL) ON COMMIT DROP").format(FRESH)


def fresh_fill(compiled: str) -> Composable:
    """Write the members a full run computed (a query of id, net_total, purchases) into the temporary table and
    answer their count, spend and purchases from the same rows."""
    return sql.SQL(
        "WITH m AS MATERIALIZED ({compiled}),"
        " written AS (INSERT INTO {fresh} (customer_pk) SELECT m.id FROM m)"
        " SELECT count(*), coalesce(sum(m.net_total), 0), coalesce(sum(m.purchases), 0) FROM m"
    ).format(compiled=sql.SQL(compiled), fresh=FRESH)


def members_insert(compiled: str) -> Composable:
    """Members of a version from a query of customer ids; params: segment, version, then the query's."""
    return sql.SQL("INSERT INTO {member} ({columns}) SELECT %s, %s, m.id FROM ({compiled}) m").format(
        member=_MEMBER,
        columns=_MEMBER_COLUMNS,
        compiled=sql.SQL(compiled),
    )


def _version_members() -> Composable:
    return sql.SQL("SELECT {customer} FROM {member} WHERE {segment} = %(s)s AND {version} = %(new)s").format(
        customer=_M_CUSTOMER, member=_MEMBER, segment=_M_SEGMENT, version=_M_VERSION
    )


def ledger(*, from_fresh_table: bool) -> Composable:
    """Who entered and who left between the current version (%(old)s) and the new members (the temporary table, or
    version %(new)s), recorded in the ledger; answers (entered, left).

    One hash full join finds both sides; two EXCEPTs would hash both sets twice."""
    fresh = sql.SQL("SELECT customer_pk FROM {}").format(FRESH) if from_fresh_table else _version_members()
    span = table(MembershipSpan)
    return sql.SQL(
        "WITH diff AS MATERIALIZED ("
        " SELECT fresh.customer_pk AS added, previous.customer_pk AS removed"
        " FROM ({fresh}) fresh"
        " FULL JOIN (SELECT {m_customer} AS customer_pk FROM {member} WHERE {m_segment} = %(s)s AND {m_version} = %(old)s)"
        " previous ON previous.customer_pk = fresh.customer_pk"
        " WHERE fresh.customer_pk IS NULL OR previous.customer_pk IS NULL),"
        " entered AS ("
        " INSERT INTO {span} ({s_segment}, {s_customer}, {entered_at}, {entered_run}, {entered_reason}, {left_reason})"
        " SELECT %(s)s, added, %(now)s, %(run)s, %(reason)s, '' FROM diff WHERE added IS NOT NULL RETURNING 1),"
        " left_ AS ("
        " UPDATE {span} SET {left_at} = %(now)s, {left_run} = %(run)s, {left_reason} = %(reason)s"
        " WHERE {s_segment} = %(s)s AND {left_at} IS NULL"
        " AND {s_customer} IN (SELECT removed FROM diff WHERE removed IS NOT NULL) RETURNING 1)"
        " SELECT (SELECT count(*) FROM entered), (SELECT count(*) FROM diff WHERE removed IS NOT NULL)"
    ).format(
        fresh=fresh,
        m_customer=_M_CUSTOMER,
        member=_MEMBER,
        m_segment=_M_SEGMENT,
        m_version=_M_VERSION,
        span=span,
        s_segment=column(MembershipSpan, "segment"),
        s_customer=column(MembershipSpan, "customer"),
        entered_at=column(MembershipSpan, "entered_at"),
        entered_run=column(MembershipSpan, "entered_run"),
        entered_reason=column(MembershipSpan, "entered_reason"),
        left_at=column(MembershipSpan, "left_at"),
        left_run=column(MembershipSpan, "left_run"),
        left_reason=column(MembershipSpan, "left_reason"),
    )


# params: segment, version
MEMBERS_FROM_FRESH = sql.SQL("INSERT INTO {member} ({columns}) SELECT %s, %s, customer_pk FROM {fresh}").format(
    member=_MEMBER, columns=_MEMBER_COLUMNS, fresh=FRESH
)
# params: segment, version
VERSION_STATS = sql.SQL(
    "SELECT count(*), coalesce(sum(c.{net}), 0), coalesce(sum(c.{purchases}), 0)"
    " FROM {member} m JOIN {customer} c ON c.{id} = m.{m_customer}"
    " WHERE m.{m_segment} = %s AND m.{m_version} = %s"
).format(
    net=column(Customer, "net_total"),
    purchases=column(Customer, "purchases"),
    member=_MEMBER,
    customer=table(Customer),
    id=column(Customer, "id"),
    m_customer=_M_CUSTOMER,
    m_segment=_M_SEGMENT,
    m_version=_M_VERSION,
)
# params: segment, version
OLDER_VERSIONS_DELETE = sql.SQL("DELETE FROM {} WHERE {} = %s AND {} < %s").format(_MEMBER, _M_SEGMENT, _M_VERSION)


# --- selectors -----------------------------------------------------------------------------------------------------

# params: segment; rows of (published version, a member's customer id), one row with NULLs when it has none
MEMBER_IDS = sql.SQL(
    "SELECT s.{current}, c.{customer_id} FROM {segment} s"
    " LEFT JOIN {member} m ON m.{m_segment} = s.{s_id} AND m.{m_version} = s.{current}"
    " LEFT JOIN {customer} c ON c.{c_id} = m.{m_customer}"
    " WHERE s.{s_id} = %s"
).format(
    current=column(Segment, "current_version"),
    customer_id=column(Customer, "customer_id"),
    segment=table(Segment),
    member=_MEMBER,
    m_segment=_M_SEGMENT,
    s_id=column(Segment, "id"),
    m_version=_M_VERSION,
    customer=table(Customer),
    c_id=column(Customer, "id"),
    m_customer=_M_CUSTOMER,
)


# --- services ------------------------------------------------------------------------------------------------------


def segment_rows_delete() -> list[Composable]:
    """A segment's members, ledger and runs, set-based (the ORM's cascade would load every row into Python);
    params: segment."""
    return [
        sql.SQL("DELETE FROM {} WHERE {} = %s").format(table(model), column(model, "segment"))
        for model in (SegmentMember, MembershipSpan, SegmentRun)
    ]


# --- criteria ------------------------------------------------------------------------------------------------------


def customers_on_days(compiled: str) -> Composable:
    """The customers with a given number of rows in a query of (customer_pk, day) rows: those whose every day of a
    window qualified; params: the query's, then the number of days."""
    return sql.SQL("SELECT customer_pk FROM ({}) d GROUP BY customer_pk HAVING count(*) = %s").format(sql.SQL(compiled))


CUSTOMER = table(Customer)


def customer_column(field: str) -> Composable:
    """A customers column qualified by its table, for conditions criteria add to the customers query."""
    return sql.SQL("{}.{}").format(CUSTOMER, column(Customer, field))


# params: the entries, their e-mail keys, their phone keys ("" for none), the account; the entries no customer of
# the account has as id, e-mail or phone, in the list's order. Three anti-joins (hashed), not one OR per entry.
LIST_UNMATCHED = sql.SQL(
    "SELECT e.entry FROM unnest(%s::text[], %s::text[], %s::text[]) WITH ORDINALITY AS e(entry, email, phone, n)"
    " WHERE NOT EXISTS (SELECT 1 FROM {customer} c WHERE c.{account} = %s AND c.{cid} = e.entry)"
    " AND NOT EXISTS (SELECT 1 FROM {customer} c WHERE c.{account} = %s AND c.{email} = e.email)"
    " AND NOT EXISTS (SELECT 1 FROM {customer} c WHERE c.{account} = %s AND e.phone <> '' AND c.{phone} = e.phone)"
    " ORDER BY e.n"
).format(
    customer=CUSTOMER,
    account=column(Customer, "account"),
    cid=column(Customer, "customer_id"),
    email=column(Customer, "email"),
    phone=column(Customer, "phone"),
)
