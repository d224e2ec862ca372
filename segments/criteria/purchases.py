"""How much, how often, when: criteria over customers' purchase counters and purchase windows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from loyalty.core.sql import raw_expression
from receipts.readmodels import queries as receipts
from segments import sql as statements
from segments.criteria.base import Context, Fields
from segments.criteria.declaration import PURCHASES, Criterion, Field, amounts, dates

MAX_EACH_DAY_WINDOW = 366


def _range_q(column: str, low, high) -> Q:
    q = Q()
    if low is not None:
        q &= Q(**{f"{column}__gte": low})
    if high is not None:
        q &= Q(**{f"{column}__lte": high})
    return q


def _window_q(ctx: Context, start, end, column: str, low, high) -> Q:
    """Customers whose `column` (purchases or net_total) in the window lies in [low, high]. Customers without
    purchases in the window count as 0, so a range containing 0 keeps them."""
    window = ctx.window(start, end)
    stats = receipts.window_stats_by_id(window_id=window)
    in_range = _range_q(column, low, high)
    zero_included = (low is None or low <= 0) and (high is None or high >= 0)
    if zero_included:
        return ~Q(id__in=stats.exclude(in_range).values("customer"))
    return Q(id__in=stats.filter(in_range).values("customer"))


COUNTS = (
    Field("min", "At least", "int", required=False, minimum=0),
    Field("max", "At most", "int", required=False, minimum=0),
)


class TransactionCount(Criterion):
    type = "transaction_count"
    label = "Number of purchases"
    group = PURCHASES
    fields = COUNTS
    one_of = ("min", "max")
    ranges = (("min", "max"),)
    matches = "lifetime purchases in range"
    example = {"min": 5}

    def q(self, v: dict, ctx: Context) -> Q:
        return _range_q("purchases", v.get("min"), v.get("max"))


class TransactionCountInPeriod(Criterion):
    type = "transaction_count_in_period"
    label = "Number of purchases between dates"
    group = PURCHASES
    fields = (*COUNTS, *dates())
    one_of = ("min", "max")
    ranges = (("min", "max"), ("fromDate", "toDate"))
    period = ("fromDate", "toDate")
    matches = "purchases in the period in range (0 when none)"
    example = {"min": 2, "fromDate": "2025-01-01", "toDate": "2025-03-31"}

    def q(self, v: dict, ctx: Context) -> Q:
        start, end = ctx.period(v["fromDate"], v["toDate"])
        return _window_q(ctx, start, end, "purchases", v.get("min"), v.get("max"))


AMOUNT_RANGE = (("fromAmount", "toAmount"),)
AMOUNT_ONE_OF = ("fromAmount", "toAmount")


def _minor(ctx: Context, value: Decimal | None) -> Decimal | None:
    return None if value is None else ctx.amount(value)


def _times_purchases(amount: Decimal) -> ExpressionWrapper:
    return ExpressionWrapper(Value(amount, output_field=DecimalField()) * F("purchases"), output_field=DecimalField())


class AverageTransactionAmount(Criterion):
    type = "average_transaction_amount"
    label = "Average purchase amount"
    group = PURCHASES
    fields = amounts()
    one_of = AMOUNT_ONE_OF
    ranges = AMOUNT_RANGE
    matches = "lifetime net sum ÷ purchases in range (customers with purchases)"
    example = {"fromAmount": 200, "toAmount": 800}

    def q(self, v: dict, ctx: Context) -> Q:
        # sum BETWEEN bound * count, never avg(): exact, and no division
        q = Q(purchases__gt=0)
        low, high = _minor(ctx, v.get("fromAmount")), _minor(ctx, v.get("toAmount"))
        if low is not None:
            q &= Q(net_total__gte=_times_purchases(low))
        if high is not None:
            q &= Q(net_total__lte=_times_purchases(high))
        return q


class TransactionAmount(Criterion):
    type = "transaction_amount"
    label = "Total spend"
    group = PURCHASES
    fields = amounts()
    one_of = AMOUNT_ONE_OF
    ranges = AMOUNT_RANGE
    matches = "lifetime net sum in range"
    example = {"fromAmount": 10000}

    def q(self, v: dict, ctx: Context) -> Q:
        return _range_q("net_total", _minor(ctx, v.get("fromAmount")), _minor(ctx, v.get("toAmount")))


class TransactionAmountInPeriod(Criterion):
    type = "transaction_amount_in_period"
    label = "Spend between dates"
    group = PURCHASES
    fields = (*amounts(), *dates())
    one_of = AMOUNT_ONE_OF
    ranges = (*AMOUNT_RANGE, ("fromDate", "toDate"))
    period = ("fromDate", "toDate")
    matches = "net sum in the period in range"
    example = {"fromAmount": 500, "fromDate": "2025-06-01", "toDate": "2025-08-31"}

    def q(self, v: dict, ctx: Context) -> Q:
        start, end = ctx.period(v["fromDate"], v["toDate"])
        return _window_q(ctx, start, end, "net_total", _minor(ctx, v.get("fromAmount")), _minor(ctx, v.get("toAmount")))


class TransactionAmountInLastNDays(Criterion):
    type = "transaction_amount_in_last_n_days"
    label = "Spend in the last N days"
    group = PURCHASES
    fields = (*amounts(), Field("days", "Days", "int", minimum=0, maximum=3650))
    one_of = AMOUNT_ONE_OF
    ranges = AMOUNT_RANGE
    clock = True
    matches = "net sum in the last N days in range"
    example = {"days": 30, "fromAmount": 1000}

    def q(self, v: dict, ctx: Context) -> Q:
        start = ctx.last_n_days_start(v["days"])
        return _window_q(
            ctx, start, None, "net_total", _minor(ctx, v.get("fromAmount")), _minor(ctx, v.get("toAmount"))
        )


def _each_day_q(ctx: Context, start, end, days: int, low, high) -> Q:
    """Every day of the window (in the account's timezone) has a daily sum in [low, high]; a day without purchases
    has the sum 0."""
    daily = (
        receipts.purchases_of_account(account=ctx.account)
        .filter(purchase_at__gte=start, **({"purchase_at__lt": end} if end else {}))
        .annotate(day=TruncDate("purchase_at", tzinfo=ctx.tz))
        .values("customer_pk", "day")
        .annotate(total=Coalesce(Sum("net_amount"), 0))
        .order_by()
    )
    in_range = _range_q("total", low, high)
    if (low is None or low <= 0) and (high is None or high >= 0):
        return ~Q(id__in=daily.exclude(in_range).values("customer_pk"))
    compiled, params = daily.filter(in_range).query.sql_with_params()
    return Q(id__in=raw_expression(statements.customers_on_days(compiled), (*params, days)))


class TransactionAmountEachDayInPeriod(Criterion):
    type = "transaction_amount_each_day_in_period"
    label = "Spend on each day between dates"
    group = PURCHASES
    fields = (
        *amounts(),
        Field("fromDate", "From date", "date"),
        Field("toDate", "To date", "date", note=f"(≤ {MAX_EACH_DAY_WINDOW} days)"),
    )
    one_of = AMOUNT_ONE_OF
    ranges = (*AMOUNT_RANGE, ("fromDate", "toDate"))
    period = ("fromDate", "toDate")
    matches = "every day of the period has a daily net sum in range (a day without purchases sums to 0)"
    example = {"fromAmount": 1, "fromDate": "2025-12-20", "toDate": "2025-12-23"}

    def check(self, f: Fields) -> None:
        start, end = f.out.get("fromDate"), f.out.get("toDate")
        if start is not None and end is not None:
            span = (end.date() if hasattr(end, "date") and callable(end.date) else end) - (
                start.date() if hasattr(start, "date") and callable(start.date) else start
            )
            if span.days + 1 > MAX_EACH_DAY_WINDOW:
                f._err("toDate", f"The period should be {MAX_EACH_DAY_WINDOW} days or shorter.", "too_long")

    def q(self, v: dict, ctx: Context) -> Q:
        start_day = (
            v["fromDate"] if not hasattr(v["fromDate"], "astimezone") else v["fromDate"].astimezone(ctx.tz).date()
        )
        end_day = v["toDate"] if not hasattr(v["toDate"], "astimezone") else v["toDate"].astimezone(ctx.tz).date()
        start, end = ctx.midnight(start_day), ctx.midnight(end_day + timedelta(days=1))
        days = (end_day - start_day).days + 1
        return _each_day_q(ctx, start, end, days, _minor(ctx, v.get("fromAmount")), _minor(ctx, v.get("toAmount")))


class TransactionAmountEachDayInLastNDays(Criterion):
    type = "transaction_amount_each_day_in_last_n_days"
    label = "Spend on each of the last N days"
    group = PURCHASES
    fields = (*amounts(), Field("days", "Days", "int", minimum=0, maximum=MAX_EACH_DAY_WINDOW - 1))
    one_of = AMOUNT_ONE_OF
    ranges = AMOUNT_RANGE
    clock = True
    matches = "the same for the days from N days ago through today"
    example = {"days": 6, "fromAmount": 1}

    def q(self, v: dict, ctx: Context) -> Q:
        start = ctx.last_n_days_start(v["days"])
        # N days ago through today
        return _each_day_q(
            ctx, start, None, v["days"] + 1, _minor(ctx, v.get("fromAmount")), _minor(ctx, v.get("toAmount"))
        )


class PurchasePeriod(Criterion):
    type = "purchase_period"
    label = "Bought between dates"
    group = PURCHASES
    fields = dates()
    ranges = (("fromDate", "toDate"),)
    period = ("fromDate", "toDate")
    matches = "at least one purchase in the period"
    example = {"fromDate": "2025-11-28", "toDate": "2025-11-28"}

    def q(self, v: dict, ctx: Context) -> Q:
        start, end = ctx.period(v["fromDate"], v["toDate"])
        return _window_q(ctx, start, end, "purchases", 1, None)


class LastPurchaseNDaysBefore(Criterion):
    type = "last_purchase_n_days_before"
    label = "Bought in the last N days"
    group = PURCHASES
    fields = (Field("days", "Days", "int", minimum=0, maximum=3650),)
    clock = True
    matches = "at least one purchase in the last N days"
    example = {"days": 90}

    def q(self, v: dict, ctx: Context) -> Q:
        return Q(last_purchase_at__gte=ctx.last_n_days_start(v["days"]))


class LastTransactionBetweenDays(Criterion):
    type = "last_transaction_between_days"
    label = "Last purchase between N and M days ago"
    group = PURCHASES
    fields = (
        Field("fromDays", "From days ago", "int", minimum=0, maximum=3650),
        Field("toDays", "To days ago", "int", minimum=0, maximum=3650),
    )
    ranges = (("fromDays", "toDays"),)
    clock = True
    matches = "the latest purchase was between those many days ago (whole days, inclusive)"
    example = {"fromDays": 30, "toDays": 60}

    def q(self, v: dict, ctx: Context) -> Q:
        # the latest purchase was on a day between toDays and fromDays days ago (inclusive)
        oldest = ctx.midnight(ctx.today - timedelta(days=v["toDays"]))
        newest = ctx.midnight(ctx.today - timedelta(days=v["fromDays"]) + timedelta(days=1))
        return Q(last_purchase_at__gte=oldest, last_purchase_at__lt=newest)


class MemberRegistrationDate(Criterion):
    """Registration = the first purchase (there is no sign-up event in receipts)."""

    type = "member_registration_date"
    label = "First seen between dates"
    group = PURCHASES
    fields = dates()
    ranges = (("fromDate", "toDate"),)
    matches = "the first purchase is in the period"
    example = {"fromDate": "2025-01-01", "toDate": "2025-01-31"}

    def q(self, v: dict, ctx: Context) -> Q:
        start, end = ctx.period(v["fromDate"], v["toDate"])
        return Q(first_purchase_at__gte=start, first_purchase_at__lt=end)
