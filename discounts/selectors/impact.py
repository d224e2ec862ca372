"""Reads of a push link's impact: one statement (`discounts.sql.IMPACT`), then the statistics in Python."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from discounts import sql as statements
from discounts.errors import PushNotFound
from discounts.impact import stats
from discounts.impact.report import PRE_PERIOD_DAYS, ImpactReport, Side, report_build
from discounts.models import DiscountRule, PushLink
from discounts.selectors import iso
from loyalty.accounts.models import Account
from loyalty.core.sql import raw_cursor
from segments.models import Segment


def push_link_get(*, account: Account, segment: Segment, rule_id: str | uuid.UUID) -> PushLink:
    try:
        rule_uuid = uuid.UUID(str(rule_id))
    except ValueError:
        raise PushNotFound() from None
    link = (
        PushLink.objects.filter(account=account, segment=segment, rule_id=rule_uuid, rule__deleted_at__isnull=True)
        .select_related("rule", "segment")
        .first()
    )
    if link is None:
        raise PushNotFound()
    return link


def holdout_links_for_rule(*, account: Account, rule: DiscountRule) -> list[PushLink]:
    return list(
        PushLink.objects.filter(account=account, rule=rule, holdout_percent__gt=0)
        .select_related("segment")
        .order_by("created_at")
    )


def impact_period(
    *, links: Sequence[PushLink], start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """The report's [start, end): by default from when the first link was made until now."""
    return start or min(link.created_at for link in links), end or timezone.now()


def links_impact(*, account: Account, links: Sequence[PushLink], start: datetime, end: datetime) -> ImpactReport:
    """The impact of one rule's holdout links over [start, end) (each customer once, on their first side)."""
    rule_ids = {link.rule_id for link in links}
    if len(rule_ids) != 1 or any(link.account_id != account.pk for link in links):
        raise ValueError("links_impact takes links of one rule of the account")
    percents = {link.holdout_percent for link in links}
    cur = raw_cursor()
    cur.execute(
        statements.IMPACT,
        {
            "account": account.pk,
            "links": [link.pk for link in links],
            "rule": rule_ids.pop(),
            "from": start,
            "to": end,
            "tz": account.timezone,
            "pre_days": PRE_PERIOD_DAYS,
        },
    )
    row = cur.fetchone()
    assert row is not None  # scalar subqueries always answer one row
    sides, entries, daily = row
    tz = account.tz
    return report_build(
        sides=sides,
        entries=entries,
        daily=daily,
        # the expected split for the sample-ratio check needs one share; links with different ones have none
        holdout_percent=percents.pop() if len(percents) == 1 else 0,
        first_day=start.astimezone(tz).date(),
        last_day=(end - timedelta(microseconds=1)).astimezone(tz).date(),
    )


# --- the period as clients send it ----------------------------------------------------------------------------------

MAX_DAYS = 1100  # three years of daily points is the most a chart or a merchant could mean


def period_parse(
    *, account: Account, start: str | None, end: str | None
) -> tuple[datetime | None, datetime | None, list[tuple[str, str]]]:
    """`from`/`to` as a date (the account's days: `from` its first moment, `to` through its end) or a date-time with
    an offset. → (start, end, problems as (field, message)); None where not given."""
    problems: list[tuple[str, str]] = []
    parsed = []
    for name, text, is_end in (("from", start, False), ("to", end, True)):
        value = _moment(account, text, is_end=is_end) if text else None
        if text and value is None:
            problems.append((name, "This value should be a date (YYYY-MM-DD) or a date-time with an offset."))
        parsed.append(value)
    begin, finish = parsed
    if begin and finish and finish <= begin:
        problems.append(("to", "This value should be after from."))
    elif begin and finish and finish - begin > timedelta(days=MAX_DAYS):
        problems.append(("to", f"The period should be at most {MAX_DAYS} days."))
    return begin, finish, problems


def _moment(account: Account, text: str, *, is_end: bool) -> datetime | None:
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=account.tz)
            return day + timedelta(days=1) if is_end else day
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


# --- representation -------------------------------------------------------------------------------------------------


def _estimate(value: stats.Estimate | None) -> dict[str, float] | None:
    if value is None:
        return None
    return {"estimate": value.estimate, "low": value.low, "high": value.high, "pValue": value.p_value}


def _side(side: Side) -> dict[str, Any]:
    return {
        "customers": side.customers,
        "converted": side.converted,
        "conversion": side.conversion,
        "netRevenue": side.net_revenue,
        "netRevenuePerCustomer": side.revenue_per_customer,
        "purchasesPerCustomer": side.purchases_per_customer,
        "discountCost": side.discount_cost,
        "discountCostPerCustomer": side.cost_per_customer,
        "prePeriodNetRevenuePerCustomer": side.per_customer(side.pre_period_revenue),
    }


def impact_to_api(report: ImpactReport, *, start: datetime, end: datetime, currency: str) -> dict[str, Any]:
    return {
        "from": iso(start),
        "to": iso(end),
        "currency": currency,
        "amountsIn": "minor units",
        "holdoutPercent": report.holdout_percent,
        "treatment": _side(report.treatment),
        "holdout": _side(report.holdout),
        "enough": report.enough,
        "uplift": _estimate(report.uplift),
        "cuped": {"prePeriodDays": PRE_PERIOD_DAYS, "theta": report.theta},
        "incrementalRevenue": _estimate(report.incremental_revenue),
        "incrementalRevenueNetOfDiscount": _estimate(report.incremental_net_of_discount),
        "sampleRatio": {
            "pValue": report.srm_p_value,
            "threshold": stats.SRM_THRESHOLD,
            "warning": report.srm_warning,
        },
        "series": [
            {"date": point.day.isoformat(), "treatment": point.treatment, "holdout": point.holdout}
            for point in report.series
        ],
    }
