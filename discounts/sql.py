"""The discounts app's raw SQL: giving and taking refs in one statement each.

Built with `psycopg.sql` from the models' `_meta` (through `loyalty.core.sql`); values are always parameters.
Run them on `loyalty.core.sql.raw_cursor()` (arrays travel as parameters).
"""

from __future__ import annotations

from discounts.models import DiscountRef, DiscountUsage, PushAssignment, PushLink
from loyalty.core.ids import UUID7_BLOCK_SQL
from loyalty.core.sql import column, columns, sql, table
from receipts.models import Customer
from receipts.readmodels.queries import purchases_relation
from segments.models import MembershipSpan, Segment, SegmentMember, SegmentRun

_REF = table(DiscountRef)
_CUSTOMER = column(DiscountRef, "customer_id")
_RULE = column(DiscountRef, "rule")
_ACCOUNT = column(DiscountRef, "account")
_DELETED_AT = column(DiscountRef, "deleted_at")
_DELETED_BY = column(DiscountRef, "deleted_by")
_CREATED_BY = column(DiscountRef, "created_by")


def give(*, only_without_live_ref: bool) -> sql.Composed:
    """Insert a ref per customer of `%(customers)s` (a text[]), ids from a reserved uuid7 block.

    A customer without an offering constraint gets a ref only when they hold no live ref of the rule at all (the
    NOT EXISTS); with a constraint, only when they hold no live ref with that constraint (the unique index). The
    ON CONFLICT also drops repeats that the same statement inserts.
    """
    only_new = (
        sql.SQL(
            """
    WHERE NOT EXISTS (
        SELECT 1 FROM {ref} held
        WHERE held.{rule} = %(rule)s::uuid AND held.{customer} = given.customer_id AND held.{deleted_at} IS NULL)
"""
        ).format(ref=_REF, rule=_RULE, customer=_CUSTOMER, deleted_at=_DELETED_AT)
        if only_without_live_ref
        else sql.SQL("")
    )
    return sql.SQL(
        """
    INSERT INTO {ref} ({columns})
    SELECT {new_id}, %(account)s::int, %(rule)s::uuid, given.customer_id, %(constraint)s::text,
           %(now)s::timestamptz, %(actor)s::text
    FROM unnest(%(customers)s::text[]) WITH ORDINALITY AS given(customer_id, n)
    {only_new}
    ON CONFLICT DO NOTHING
"""
    ).format(
        ref=_REF,
        columns=columns(
            DiscountRef, ["id", "account", "rule", "customer_id", "offering_constraint_id", "created_at", "created_by"]
        ),
        new_id=sql.SQL(UUID7_BLOCK_SQL).format(n=sql.SQL("given.n")),
        only_new=only_new,
    )


def take(
    *, only_customers: bool = False, spared: bool = False, given_by: bool = False, keep: bool = False
) -> sql.Composed:
    """Soft-delete the rule's live refs, narrowed by each option that is set: to `%(customers)s`
    (`only_customers`), sparing `%(spared)s` (`spared`), to those `%(given_by)s` gave (`given_by`), to customers
    not in `%(keep)s` (`keep`). Every list is a text[]."""
    scope: sql.Composable = sql.SQL("")
    if only_customers:
        scope += sql.SQL(" AND ref.{customer} = ANY(%(customers)s::text[])").format(customer=_CUSTOMER)
    if spared:
        scope += sql.SQL(" AND ref.{customer} <> ALL(%(spared)s::text[])").format(customer=_CUSTOMER)
    if given_by:
        scope += sql.SQL(" AND ref.{created_by} = %(given_by)s::text").format(created_by=_CREATED_BY)
    if keep:
        scope += sql.SQL(" AND NOT (ref.{customer} = ANY(%(keep)s::text[]))").format(customer=_CUSTOMER)
    return sql.SQL(
        """
    UPDATE {ref} ref SET {deleted_at} = %(now)s::timestamptz, {deleted_by} = %(actor)s::text
    WHERE ref.{account} = %(account)s::int AND ref.{rule} = %(rule)s::uuid AND ref.{deleted_at} IS NULL{scope}
"""
    ).format(
        ref=_REF,
        deleted_at=_DELETED_AT,
        deleted_by=_DELETED_BY,
        account=_ACCOUNT,
        rule=_RULE,
        scope=scope,
    )


# Take back the refs `%(given_by)s` gave that are not in `%(keep)s`: members who left a synced segment.
TAKE_DEPARTED = take(given_by=True, keep=True)

# Take back the refs `%(given_by)s` gave to the customers of `%(customers)s`.
TAKE_GIVEN = take(given_by=True, only_customers=True)

# A segment's published version and how its membership differs from version `%(since)s` (NULL: from nobody), as
# customer ids, in one statement, so a publish committing meanwhile is seen whole or not at all. Older versions'
# member rows are gone once a newer one is published, so the `since` membership comes from the ledger: the spans
# entered by a run that published `since` or earlier and not left by one. Runs publishing an unchanged membership
# keep the version number and write no span, so the ledger and the version numbers agree.
# → (version, added customer ids, removed customer ids); (NULL, NULL, NULL) before a first successful run.
MEMBERSHIP_DIFF = sql.SQL(
    """
    WITH published AS MATERIALIZED (
            SELECT segment.{current_version} AS version FROM {segment} segment WHERE segment.{segment_id} = %(segment)s),
         now_in AS (
            SELECT member.{member_customer} AS customer_pk FROM {member} member, published
            WHERE member.{member_segment} = %(segment)s AND member.{member_version} = published.version),
         then_in AS (
            SELECT span.{span_customer} AS customer_pk
            FROM {span} span
            JOIN {run} entered ON entered.{run_id} = span.{entered_run}
            LEFT JOIN {run} left_ ON left_.{run_id} = span.{left_run}
            WHERE span.{span_segment} = %(segment)s AND entered.{run_version} <= %(since)s::int
              AND (span.{left_run} IS NULL OR left_.{run_version} > %(since)s::int)),
         diff AS (
            SELECT now_in.customer_pk AS added, then_in.customer_pk AS removed
            FROM now_in FULL JOIN then_in ON then_in.customer_pk = now_in.customer_pk
            WHERE now_in.customer_pk IS NULL OR then_in.customer_pk IS NULL)
    SELECT published.version,
           coalesce((SELECT array_agg(customer.{customer_id} ORDER BY customer.{customer_id})
                     FROM diff JOIN {customer} customer ON customer.{customer_pk} = diff.added), '{{}}'),
           coalesce((SELECT array_agg(customer.{customer_id} ORDER BY customer.{customer_id})
                     FROM diff JOIN {customer} customer ON customer.{customer_pk} = diff.removed), '{{}}')
    FROM published
"""
).format(
    segment=table(Segment),
    segment_id=column(Segment, "id"),
    current_version=column(Segment, "current_version"),
    member=table(SegmentMember),
    member_customer=column(SegmentMember, "customer"),
    member_segment=column(SegmentMember, "segment"),
    member_version=column(SegmentMember, "version"),
    span=table(MembershipSpan),
    span_customer=column(MembershipSpan, "customer"),
    span_segment=column(MembershipSpan, "segment"),
    entered_run=column(MembershipSpan, "entered_run"),
    left_run=column(MembershipSpan, "left_run"),
    run=table(SegmentRun),
    run_id=column(SegmentRun, "id"),
    run_version=column(SegmentRun, "version"),
    customer=table(Customer),
    customer_pk=column(Customer, "id"),
    customer_id=column(Customer, "customer_id"),
)


# The size of a segment's published version: (version, its member rows), read in one statement; (NULL, 0) before a
# first successful run.
PUBLISHED_SIZE = sql.SQL(
    """
    SELECT segment.{current_version},
           (SELECT count(*) FROM {member} member
            WHERE member.{member_segment} = segment.{segment_id} AND member.{member_version} = segment.{current_version})
    FROM {segment} segment WHERE segment.{segment_id} = %(segment)s
"""
).format(
    segment=table(Segment),
    segment_id=column(Segment, "id"),
    current_version=column(Segment, "current_version"),
    member=table(SegmentMember),
    member_segment=column(SegmentMember, "segment"),
    member_version=column(SegmentMember, "version"),
)


def give_members(*, take_departed: bool) -> sql.Composed:
    """Give the rule to every member of version `%(version)s` of segment `%(segment)s` who holds no live ref of it,
    in one statement: the members never travel to Python and back. With `take_departed`, also take back the live
    refs `%(given_by)s` gave to customers who are not members, in the same statement (so from the same version: a
    second statement could see it deleted by a newer publish and take everything back).

    The caller holds the rule's row lock, under which the NOT EXISTS sees every live ref (a member id appears once),
    so no ON CONFLICT: the speculative insertion it costs was ~20 % of the statement. Ids come from a uuid7 block of
    `%(id_high)s`/`%(id_low)s` reserved for the version's `%(expected)s` members; rows go in customer id order, so
    the rule's entries are appended to its (rule, customer) range. A newer publish deletes a version's members in
    one transaction, so the statement sees all of them or none: when it does not see `%(expected)s`, it writes
    nothing. → (whether it saw the version whole, refs given, refs taken).
    """
    take = (
        sql.SQL(
            """,
         taken AS (
            UPDATE {ref} ref SET {deleted_at} = %(now)s::timestamptz, {deleted_by} = %(actor)s::text
            WHERE ref.{account} = %(account)s::int AND ref.{rule} = %(rule)s::uuid AND ref.{deleted_at} IS NULL
              AND ref.{created_by} = %(given_by)s::text
              AND (SELECT seen FROM whole)
              AND NOT EXISTS (
                  SELECT 1 FROM {customer_table} customer
                  JOIN {member} member
                    ON member.{member_segment} = %(segment)s AND member.{member_version} = %(version)s
                   AND member.{member_customer} = customer.{customer_pk}
                  WHERE customer.{customer_account} = %(account)s::int AND customer.{customer_id} = ref.{customer})
            RETURNING 1)"""
        ).format(
            customer_table=table(Customer),
            customer_pk=column(Customer, "id"),
            customer_account=column(Customer, "account"),
            customer_id=column(Customer, "customer_id"),
            member=table(SegmentMember),
            member_customer=column(SegmentMember, "customer"),
            member_segment=column(SegmentMember, "segment"),
            member_version=column(SegmentMember, "version"),
            ref=_REF,
            deleted_at=_DELETED_AT,
            deleted_by=_DELETED_BY,
            account=_ACCOUNT,
            rule=_RULE,
            created_by=_CREATED_BY,
            customer=_CUSTOMER,
        )
        if take_departed
        else sql.SQL("")
    )
    return sql.SQL(
        """
    WITH members AS MATERIALIZED (
            SELECT customer.{customer_id} AS customer_id
            FROM {member} member JOIN {customer_table} customer ON customer.{customer_pk} = member.{member_customer}
            WHERE member.{member_segment} = %(segment)s AND member.{member_version} = %(version)s),
         whole AS MATERIALIZED (SELECT count(*) = %(expected)s::bigint AS seen FROM members),
         given AS (
            SELECT members.customer_id, row_number() OVER (ORDER BY members.customer_id) AS n
            FROM members
            WHERE (SELECT seen FROM whole)
              AND NOT EXISTS (
                  SELECT 1 FROM {ref} held
                  WHERE held.{rule} = %(rule)s::uuid AND held.{customer} = members.customer_id
                    AND held.{deleted_at} IS NULL)),
         inserted AS (
            INSERT INTO {ref} ({columns})
            SELECT {new_id}, %(account)s::int, %(rule)s::uuid, given.customer_id, NULL, %(now)s::timestamptz,
                   %(actor)s::text
            FROM given
            RETURNING 1){take}
    SELECT (SELECT seen FROM whole), (SELECT count(*) FROM inserted), {taken}
"""
    ).format(
        customer_id=column(Customer, "customer_id"),
        customer=_CUSTOMER,
        member=table(SegmentMember),
        customer_table=table(Customer),
        customer_pk=column(Customer, "id"),
        member_customer=column(SegmentMember, "customer"),
        member_segment=column(SegmentMember, "segment"),
        member_version=column(SegmentMember, "version"),
        ref=_REF,
        rule=_RULE,
        deleted_at=_DELETED_AT,
        columns=columns(
            DiscountRef, ["id", "account", "rule", "customer_id", "offering_constraint_id", "created_at", "created_by"]
        ),
        new_id=sql.SQL(UUID7_BLOCK_SQL).format(n=sql.SQL("given.n")),
        take=take,
        taken=sql.SQL("(SELECT count(*) FROM taken)") if take_departed else sql.SQL("0"),
    )


# The holdout's stable bucket of a customer id (`discounts/holdouts.py` is the same function in Python): the first
# 32 bits of md5('<seed>:<customer id>') as an unsigned integer, mod 10,000.
BUCKET = "(('x' || substr(md5(%(seed)s::bigint::text || ':' || {customer_id}), 1, 8))::bit(32)::bigint %% 10000)"

# A holdout link's assignment of the members a push would give the rule to (`%(customers)s`, a text[]): each
# customer's first assignment is kept (ON CONFLICT DO NOTHING), so a customer who leaves and comes back stays on
# the same side, since the same date; the link's counts move by what was inserted. → the customer ids that are not
# held out (those the push gives the rule to), in one statement.
ASSIGN = sql.SQL(
    """
    WITH given AS MATERIALIZED (
            SELECT customer.{customer_pk} AS customer_pk, customer.{customer_id} AS customer_id,
                   {bucket} AS bucket
            FROM unnest(%(customers)s::text[]) AS member(customer_id)
            JOIN {customer} customer
              ON customer.{customer_account} = %(account)s::int AND customer.{customer_id} = member.customer_id),
         inserted AS (
            INSERT INTO {assignment} ({assignment_columns})
            SELECT %(account)s::int, %(link)s::bigint, given.customer_pk, given.bucket,
                   given.bucket < %(threshold)s::int, %(now)s::timestamptz
            FROM given
            ON CONFLICT DO NOTHING
            RETURNING {held_out}),
         counted AS (
            UPDATE {link} SET {assigned_count} = {assigned_count} + (SELECT count(*) FROM inserted),
                              {held_out_count} = {held_out_count} + (SELECT count(*) FROM inserted WHERE {held_out})
            WHERE {link_id} = %(link)s::bigint
            RETURNING 1)
    SELECT coalesce(array_agg(given.customer_id ORDER BY given.customer_id)
                    FILTER (WHERE given.bucket >= %(threshold)s::int), '{{}}'),
           count(*) FILTER (WHERE given.bucket < %(threshold)s::int),
           (SELECT count(*) FROM counted)
    FROM given
"""
).format(
    bucket=sql.SQL(BUCKET).format(customer_id=sql.SQL("customer.{}").format(column(Customer, "customer_id"))),
    customer=table(Customer),
    customer_pk=column(Customer, "id"),
    customer_id=column(Customer, "customer_id"),
    customer_account=column(Customer, "account"),
    assignment=table(PushAssignment),
    assignment_columns=columns(PushAssignment, ["account", "link", "customer", "bucket", "held_out", "assigned_at"]),
    held_out=column(PushAssignment, "held_out"),
    link=table(PushLink),
    link_id=column(PushLink, "id"),
    assigned_count=column(PushLink, "assigned_count"),
    held_out_count=column(PushLink, "held_out_count"),
)


# The impact report of the links `%(links)s` (bigint[], one rule's) over [`%(from)s`, `%(to)s`), in one statement.
# Each customer counts once, on the side of their first assignment, from `since` = the later of when they entered
# and `from`. Per customer: y = net spend since, k = purchases since, x = net spend in the `%(pre_days)s` days
# before entering (CUPED's covariate), cost = the rule's discount from the usage ledger since (largest figure per
# purchase: a claim and its receipt are one purchase; released claims skipped). Answered as sums per side (the
# sufficient statistics of discounts/impact/stats.py; y, x and cost as float8 so their squares cannot overflow),
# and, for the chart, entries and net spend per side and day in `%(tz)s`. Never a row per customer.
#
# Shaped to take the same plan whatever the planner believes: right after a push the assignments' statistics do
# not know the link (an estimate of one customer for 100,000), and joins chosen on that estimate (a nested loop
# over two CTEs) took seconds. So every per-customer step is a lateral lookup by index, which is the plan at any
# size: one range of each customer's purchases (an index-only scan of `receipt_customer_time`, which covers the
# purchase's account, kind and net), summed per customer and per side and day in one pass (grouping sets); the
# cost starts from the ledger: its purchases gathered per customer, who is looked up once (profile, then first
# assignment), and added to the customers by a union and a grouping, never by a join of the two sets.
IMPACT = sql.SQL(
    """
    WITH entered AS MATERIALIZED (
            SELECT DISTINCT ON (assignment.{a_customer})
                   assignment.{a_customer} AS customer_pk, assignment.{a_held_out} AS held_out,
                   assignment.{a_at} AS entered_at, greatest(assignment.{a_at}, %(from)s::timestamptz) AS since
            FROM {assignment} assignment
            WHERE assignment.{a_account} = %(account)s::int AND assignment.{a_link} = ANY(%(links)s::bigint[])
              AND assignment.{a_at} < %(to)s::timestamptz
            ORDER BY assignment.{a_customer}, assignment.{a_at}),
         grouped AS MATERIALIZED (
            SELECT GROUPING(entered.customer_pk) = 0 AS per_customer, entered.customer_pk, entered.held_out,
                   CASE WHEN purchase.purchase_at >= entered.since
                        THEN (purchase.purchase_at AT TIME ZONE %(tz)s::text)::date END AS day,
                   coalesce(sum(purchase.net::float8) FILTER (WHERE purchase.purchase_at >= entered.since), 0) AS y,
                   count(*) FILTER (WHERE purchase.purchase_at >= entered.since) AS k,
                   coalesce(sum(purchase.net::float8) FILTER (WHERE purchase.purchase_at < entered.entered_at), 0)
                       AS x
            FROM entered
            -- one range per customer; a `from` after they entered leaves a gap, read in the index and skipped
            LEFT JOIN LATERAL (
                SELECT purchase.purchase_at, purchase.net FROM {purchases} purchase
                WHERE purchase.customer_pk = entered.customer_pk
                  AND purchase.purchase_at >= entered.entered_at - make_interval(days => %(pre_days)s::int)
                  AND purchase.purchase_at < %(to)s::timestamptz
                  AND (purchase.purchase_at >= entered.since OR purchase.purchase_at < entered.entered_at)
                OFFSET 0) purchase ON true
            GROUP BY GROUPING SETS ((entered.customer_pk, entered.held_out), (entered.held_out, 4))),  -- 4: day
         used AS (
            SELECT usage.{u_customer} AS customer_id, min(usage.{u_at}) AS at, max(usage.{u_amount})::float8 AS amount
            FROM {usage} usage
            WHERE usage.{u_account} = %(account)s::int AND usage.{u_rule} = %(rule)s::uuid
              AND usage.{u_at} >= %(from)s::timestamptz AND usage.{u_at} < %(to)s::timestamptz
              AND usage.{u_released} IS NULL AND usage.{u_customer} IS NOT NULL
            GROUP BY usage.{u_customer}, usage.{u_purchase}),
         users AS (
            SELECT customer_id, array_agg(at) AS ats, array_agg(amount) AS amounts FROM used GROUP BY customer_id),
         cost AS (
            SELECT first.customer_pk,
                   (SELECT sum(one.amount) FROM unnest(users.ats, users.amounts) AS one(at, amount)
                    WHERE one.at >= first.since) AS cost
            FROM users
            JOIN {customer} customer
              ON customer.{c_account} = %(account)s::int AND customer.{c_customer_id} = users.customer_id
            CROSS JOIN LATERAL (
                SELECT assignment.{a_customer} AS customer_pk,
                       greatest(assignment.{a_at}, %(from)s::timestamptz) AS since
                FROM {assignment} assignment
                WHERE assignment.{a_link} = ANY(%(links)s::bigint[]) AND assignment.{a_customer} = customer.{c_pk}
                  AND assignment.{a_at} < %(to)s::timestamptz
                ORDER BY assignment.{a_at} LIMIT 1) first),
         per_customer AS (
            SELECT bool_or(held_out) AS held_out, sum(y) AS y, sum(k) AS k, sum(x) AS x, sum(c) AS c
            FROM (SELECT customer_pk, held_out, y, k, x, 0 AS c FROM grouped WHERE per_customer
                  UNION ALL
                  SELECT customer_pk, NULL, 0, 0, 0, cost FROM cost) parts
            GROUP BY customer_pk),
         sides AS (
            SELECT held_out, count(*) AS n, count(*) FILTER (WHERE k > 0) AS converted, sum(k) AS purchases,
                   sum(y) AS sy, sum(y * y) AS syy, sum(x) AS sx, sum(x * x) AS sxx, sum(x * y) AS sxy,
                   sum(c) AS sc, sum(c * c) AS scc, sum(y * c) AS syc, sum(x * c) AS sxc
            FROM per_customer GROUP BY held_out),
         entries AS (
            SELECT held_out, (since AT TIME ZONE %(tz)s::text)::date AS day, count(*) AS n
            FROM entered GROUP BY 1, 2)
    SELECT (SELECT coalesce(json_agg(sides), '[]') FROM sides),
           (SELECT coalesce(json_agg(json_build_array(held_out, day, n)), '[]') FROM entries),
           (SELECT coalesce(json_agg(json_build_array(held_out, day, y)), '[]')
            FROM grouped WHERE NOT per_customer AND day IS NOT NULL)
"""
).format(
    assignment=table(PushAssignment),
    a_customer=column(PushAssignment, "customer"),
    a_held_out=column(PushAssignment, "held_out"),
    a_at=column(PushAssignment, "assigned_at"),
    a_account=column(PushAssignment, "account"),
    a_link=column(PushAssignment, "link"),
    customer=table(Customer),
    c_pk=column(Customer, "id"),
    c_account=column(Customer, "account"),
    c_customer_id=column(Customer, "customer_id"),
    purchases=purchases_relation(),
    usage=table(DiscountUsage),
    u_customer=column(DiscountUsage, "customer_id"),
    u_at=column(DiscountUsage, "at"),
    u_amount=column(DiscountUsage, "amount"),
    u_account=column(DiscountUsage, "account"),
    u_rule=column(DiscountUsage, "rule"),
    u_released=column(DiscountUsage, "released_at"),
    u_purchase=column(DiscountUsage, "purchase_key"),
)
