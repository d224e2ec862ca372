from __future__ import annotations

from datetime import datetime, time, timedelta

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from loyalty.web.access import account_view, page
from loyalty.web.formatting import exponent
from receipts import selectors as receipts
from segments import selectors as segments

DAYS = 90


@account_view
def dashboard(request: HttpRequest) -> HttpResponse:
    account = request.account
    tz = account.tz
    today = timezone.now().astimezone(tz).date()
    since = datetime.combine(today - timedelta(days=DAYS - 1), time.min, tzinfo=tz)
    month_start = datetime.combine(today.replace(day=1), time.min, tzinfo=tz)
    per_day = dict(
        (day, (n, gross)) for day, n, gross in receipts.receipts_per_day(account=account, since=since, tz=tz)
    )
    days = [(today - timedelta(days=offset)).isoformat() for offset in range(DAYS - 1, -1, -1)]
    series = {
        "labels": days,
        "receipts": [per_day.get(day, (0, 0))[0] for day in days],
        "revenue": [per_day.get(day, (0, 0))[1] / 10 ** exponent(account.currency) for day in days],
        "currency": account.currency,
    }
    active, inactive = receipts.customers_activity(account=account, since=month_start)
    totals = {
        "receipts": sum(series["receipts"]),
        "revenue": sum(per_day.get(day, (0, 0))[1] for day in days),
    }
    return page(
        request,
        "web/dashboard.html",
        {
            "series": series,
            "totals": totals,
            "active_customers": active,
            "inactive_customers": inactive,
            "segments": segments.segments_overview(account=account, limit=8),
            "runs": segments.runs_recent(account=account, limit=8),
            "failures": segments.runs_recent(account=account, limit=5, failed=True),
            "month_start": month_start,
            "nav": "dashboard",
        },
    )
