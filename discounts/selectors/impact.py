"""Reads of a push link's impact: one statement (`discounts.sql.IMPACT`), then the statistics in Python."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils import timezone

from discounts import sql as statements
from discounts.errors import PushNotFound
from discounts.impact.report import PRE_PERIOD_DAYS, ImpactReport, report_build
from discounts.models import DiscountRule, PushLink
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
