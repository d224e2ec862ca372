from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from loyalty.web.access import account_view, page
from loyalty.web.formatting import exponent, money
from loyalty.web.templatetags.web import number
from receipts import selectors as receipts
from segments import selectors as segments

DAYS = 90
SEGMENTS_SHOWN = 8


def _change(value: int, previous: int) -> dict[str, Any] | None:
    """▲/▼ and the percentage against the previous period; None when there was nothing to compare with."""
    if not previous:
        return None
    percent = round(abs(value - previous) * 100 / previous)
    if value == previous or percent == 0:
        return {"direction": "same", "arrow": "±", "percent": 0}
    up = value > previous
    change = {"direction": "up" if up else "down", "arrow": "▲" if up else "▼", "percent": percent}
    return change


def _card(
    key: str, label: str, value: int, previous: int, *, shown: str, compared: str, more_is_better: bool = True
) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "value": value,
        "shown": shown,
        "previous": previous,
        "change": _change(value, previous),
        "tone": "good" if (value >= previous) == more_is_better else "bad",
        "compared": compared,
    }


def _months(account, now: datetime) -> tuple[datetime, datetime, datetime]:
    """This month's start, and the same stretch of last month (its first days up to the same elapsed time)."""
    tz = account.tz
    today = now.astimezone(tz).date()
    month_start = datetime.combine(today.replace(day=1), time.min, tzinfo=tz)
    last_month = datetime.combine((today.replace(day=1) - timedelta(days=1)).replace(day=1), time.min, tzinfo=tz)
    return month_start, last_month, min(last_month + (now - month_start), month_start)


@account_view
def dashboard(request: HttpRequest) -> HttpResponse:
    account = request.account
    tz = account.tz
    now = timezone.now()
    today = now.astimezone(tz).date()
    before = datetime.combine(today - timedelta(days=2 * DAYS - 1), time.min, tzinfo=tz)
    per_day = {day: (n, gross) for day, n, gross in receipts.receipts_per_day(account=account, since=before, tz=tz)}
    days = [(today - timedelta(days=offset)).isoformat() for offset in range(DAYS - 1, -1, -1)]
    previous_days = [(today - timedelta(days=offset)).isoformat() for offset in range(2 * DAYS - 1, DAYS - 1, -1)]
    series = {
        "labels": days,
        "receipts": [per_day.get(day, (0, 0))[0] for day in days],
        "revenue": [per_day.get(day, (0, 0))[1] / 10 ** exponent(account.currency) for day in days],
        "currency": account.currency,
    }
    month_start, last_month, last_month_end = _months(account, now)
    active, inactive = receipts.customers_activity(account=account, since=month_start)
    active_before = receipts.customers_buying(account=account, start=last_month, end=last_month_end)
    totals = {
        "receipts": sum(series["receipts"]),
        "revenue": sum(per_day.get(day, (0, 0))[1] for day in days),
    }
    previous = {
        "receipts": sum(per_day.get(day, (0, 0))[0] for day in previous_days),
        "revenue": sum(per_day.get(day, (0, 0))[1] for day in previous_days),
    }
    days_before = f"the {DAYS} days before"
    month_before = "the same days last month"
    cards = [
        _card(
            "receipts", f"Receipts, {DAYS} days", totals["receipts"], previous["receipts"],
            shown=number(totals["receipts"]), compared=days_before,
        ),
        _card(
            "revenue", f"Revenue, {DAYS} days", totals["revenue"], previous["revenue"],
            shown=money(totals["revenue"], account.currency), compared=days_before,
        ),
        _card(
            "active", "Customers who bought this month", active, active_before,
            shown=number(active), compared=month_before,
        ),
        _card(
            "inactive", "Customers without a purchase this month", inactive, active + inactive - active_before,
            shown=number(inactive), compared=month_before, more_is_better=False,
        ),
    ]  # fmt: skip
    # the largest first: what a merchant acts on, rather than the first few by name
    largest = sorted(segments.segments_overview(account=account), key=lambda s: (-s.customers_count, s.name))
    return page(
        request,
        "web/dashboard.html",
        {
            "series": series,
            "totals": totals,
            "cards": cards,
            "active_customers": active,
            "inactive_customers": inactive,
            "segments": largest[:SEGMENTS_SHOWN],
            "runs": segments.runs_recent(account=account, limit=8),
            "failures": segments.runs_recent(account=account, limit=5, failed=True),
            "month_start": month_start,
            "nav": "dashboard",
        },
    )
