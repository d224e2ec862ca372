"""The impact report of a push link (or of a rule's links) from the per-side sums the SQL returns. Pure.

Treatment = the link's members not held out; holdout = those held out. Every figure per customer counts each
customer from when they entered (`discounts.sql.IMPACT`). The uplift is the relative difference of net revenue per
customer, CUPED-adjusted with each customer's net spend in the 90 days before entering; incremental revenue is the
adjusted difference per customer times the treatment's customers, and "net of discount" the same for net spend
minus the rule's discount cost. Amounts are in minor units of the account's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from discounts.impact import stats

PRE_PERIOD_DAYS = 90
# below this many customers on a side, or without purchases in the holdout, the report says it cannot tell yet
MIN_CUSTOMERS_PER_SIDE = 30


@dataclass(frozen=True)
class Side:
    customers: int = 0
    converted: int = 0
    purchases: int = 0
    net_revenue: float = 0.0
    discount_cost: float = 0.0
    pre_period_revenue: float = 0.0

    def per_customer(self, total: float) -> float | None:
        return total / self.customers if self.customers else None

    @property
    def conversion(self) -> float | None:
        return self.per_customer(self.converted)

    @property
    def revenue_per_customer(self) -> float | None:
        return self.per_customer(self.net_revenue)

    @property
    def purchases_per_customer(self) -> float | None:
        return self.per_customer(self.purchases)

    @property
    def cost_per_customer(self) -> float | None:
        return self.per_customer(self.discount_cost)


@dataclass(frozen=True)
class SeriesPoint:
    day: date
    treatment: float | None  # cumulative net revenue per customer entered by that day
    holdout: float | None


@dataclass(frozen=True)
class ImpactReport:
    holdout_percent: int
    treatment: Side
    holdout: Side
    uplift: stats.Estimate | None  # relative, CUPED-adjusted
    incremental_revenue: stats.Estimate | None
    incremental_net_of_discount: stats.Estimate | None
    theta: float
    srm_p_value: float | None
    series: list[SeriesPoint] = field(default_factory=list)

    @property
    def srm_warning(self) -> bool:
        return self.srm_p_value is not None and self.srm_p_value < stats.SRM_THRESHOLD

    @property
    def enough(self) -> bool:
        """Whether there is enough to compare: customers on both sides, and purchases in the holdout."""
        return (
            min(self.treatment.customers, self.holdout.customers) >= MIN_CUSTOMERS_PER_SIDE
            and self.holdout.converted > 0
            and self.uplift is not None
        )


def _moments(row: dict[str, Any], *, net_of_cost: bool) -> stats.Moments:
    if not net_of_cost:
        return stats.Moments(row["n"], row["sy"], row["syy"], row["sx"], row["sxx"], row["sxy"])
    # z = y - cost: Σz = Σy - Σc, Σz² = Σy² - 2Σyc + Σc², Σxz = Σxy - Σxc
    return stats.Moments(
        row["n"],
        row["sy"] - row["sc"],
        row["syy"] - 2 * row["syc"] + row["scc"],
        row["sx"],
        row["sxx"],
        row["sxy"] - row["sxc"],
    )


EMPTY = {key: 0 for key in ("n", "converted", "purchases", "sy", "syy", "sx", "sxx", "sxy", "sc", "scc", "syc", "sxc")}


def _side(row: dict[str, Any]) -> Side:
    return Side(
        customers=int(row["n"]),
        converted=int(row["converted"]),
        purchases=int(row["purchases"]),
        net_revenue=float(row["sy"]),
        discount_cost=float(row["sc"]),
        pre_period_revenue=float(row["sx"]),
    )


def _compare(
    t: dict[str, Any], c: dict[str, Any], *, net_of_cost: bool
) -> tuple[stats.Adjusted, stats.Adjusted, float]:
    return stats.adjusted_pair(_moments(t, net_of_cost=net_of_cost), _moments(c, net_of_cost=net_of_cost))


def report_build(
    *,
    sides: list[dict[str, Any]],
    entries: list[list[Any]],
    daily: list[list[Any]],
    holdout_percent: int,
    first_day: date,
    last_day: date,
) -> ImpactReport:
    """The report from `discounts.sql.IMPACT`'s answer (sides as dicts with `held_out`, entries and daily net as
    [held_out, "YYYY-MM-DD", value])."""
    by_side = {bool(row["held_out"]): {**EMPTY, **{k: v or 0 for k, v in row.items()}} for row in sides}
    t, c = by_side.get(False, EMPTY), by_side.get(True, EMPTY)
    uplift = revenue = net = None
    theta = 0.0
    if t["n"] >= 2 and c["n"] >= 2:
        adjusted_t, adjusted_c, theta = _compare(t, c, net_of_cost=False)
        uplift = stats.relative_lift(adjusted_t, adjusted_c)
        revenue = stats.absolute_difference(adjusted_t, adjusted_c).scaled(t["n"])
        net = stats.absolute_difference(*_compare(t, c, net_of_cost=True)[:2]).scaled(t["n"])
    return ImpactReport(
        holdout_percent=holdout_percent,
        treatment=_side(t),
        holdout=_side(c),
        uplift=uplift,
        incremental_revenue=revenue,
        incremental_net_of_discount=net,
        theta=theta,
        srm_p_value=stats.srm_p_value(treatment=t["n"], holdout=c["n"], holdout_percent=holdout_percent),
        series=_series(entries, daily, first_day, last_day),
    )


def _series(entries: list[list[Any]], daily: list[list[Any]], first_day: date, last_day: date) -> list[SeriesPoint]:
    """Cumulative net revenue per customer entered so far, per side and day (entries before the first day count
    from it)."""
    entered: dict[tuple[bool, date], float] = {}
    spent: dict[tuple[bool, date], float] = {}
    for source, target in ((entries, entered), (daily, spent)):
        for held_out, day, value in source:
            key = (bool(held_out), max(date.fromisoformat(day), first_day))
            target[key] = target.get(key, 0) + float(value)
    points = []
    totals = {False: [0.0, 0.0], True: [0.0, 0.0]}  # side → [customers, revenue]
    day = first_day
    while day <= last_day:
        for side, running in totals.items():
            running[0] += entered.get((side, day), 0)
            running[1] += spent.get((side, day), 0)
        points.append(
            SeriesPoint(
                day,
                totals[False][1] / totals[False][0] if totals[False][0] else None,
                totals[True][1] / totals[True][0] if totals[True][0] else None,
            )
        )
        day += timedelta(days=1)
    return points
