"""Money and time as merchants read them: amounts in the currency's major units, times in the account's zone."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from segments.criteria.base import CURRENCY_EXPONENTS


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency or "", 2)


def money(minor: int | None, currency: str) -> str:
    if minor is None:
        return "—"
    places = exponent(currency)
    value = Decimal(minor).scaleb(-places)
    # a narrow no-break space groups thousands and keeps the amount on one line
    text = f"{value:,.{places}f}".replace(",", "\u202f")
    return f"{text} {currency}".strip()


def major(value: Decimal | float | int | None, currency: str) -> str:
    """An amount already in major units (segment averages)."""
    if value is None:
        return "—"
    places = exponent(currency)
    text = f"{Decimal(str(value)):,.{places}f}".replace(",", "\u202f")
    return f"{text} {currency}"


def whole_money(minor: float, currency: str) -> str:
    """An amount in minor units (a float: an average or an estimate) rounded to whole major units."""
    whole = int(Decimal(str(minor)).scaleb(-exponent(currency)).to_integral_value())
    return f"{whole:,}".replace(",", "\u202f").replace("-", "\u2212") + f" {currency}"


def to_minor(text: str, currency: str) -> int | None:
    """A major-unit amount typed by a person ("1 234,50" or "1234.5") → minor units, or None if unreadable."""
    cleaned = text.replace("\u202f", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite() or abs(value) > Decimal("1e13"):
        return None
    return int(value.scaleb(exponent(currency)).to_integral_value())


def local(value: datetime | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    return value.astimezone(tz).strftime(fmt)
