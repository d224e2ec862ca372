"""What every criterion module builds on: the evaluation context and field validation with Open Loyalty paths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q

from loyalty.accounts.models import Account
from loyalty.core.errors import FieldError, ValidationFailed

# ISO 4217 minor-unit exponents that differ from 2
CURRENCY_EXPONENTS = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


class CriterionError(ValidationFailed):
    """Collected field problems of a definition or a segment's fields: `errors` as (path, message, code), also
    carried as the DomainError's field errors (rendered as "Validation failed." with each path)."""

    def __init__(self, errors: list[tuple[str, str, str]]):
        super().__init__(
            "Validation failed.", field_errors=[FieldError(path, message, code) for path, message, code in errors]
        )
        self.errors = errors

    def __str__(self) -> str:
        return "; ".join(f"{p}: {m}" for p, m, _ in self.errors)


Bounds = tuple[datetime | None, datetime | None]  # a purchase window: [start, end), None = unbounded


@dataclass
class Context:
    """Everything a criterion needs to turn into SQL: the account (tenancy, timezone, currency) and the clock."""

    account: Account
    now: datetime
    window: Callable[[datetime | None, datetime | None], int]  # [start, end) → its prepared purchase window id
    buyers: Callable[[list[int]], bool]  # whether these codes' lifetime buyers (receipts' CodeBuyer) are kept
    # what the compiled definition reads besides the tables themselves (see engine.read_models_intact)
    windows_used: set[int] = field(default_factory=set)
    codes_kept: set[int] = field(default_factory=set)
    tz: ZoneInfo = field(init=False)

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.account.timezone)

    @property
    def minor(self) -> int:
        return 10 ** CURRENCY_EXPONENTS.get(self.account.currency, 2)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.tz)

    def last_n_days_start(self, days: int) -> datetime:
        """A "last N days" window runs from 00:00 N days ago in the account's timezone until now."""
        return self.midnight(self.today - timedelta(days=days))

    def period(
        self, start: date | datetime | None, end: date | datetime | None
    ) -> tuple[datetime | None, datetime | None]:
        """Inclusive criterion dates → [start, end) instants. A date means the whole day in the account's timezone."""
        lo = self.midnight(start) if isinstance(start, date) and not isinstance(start, datetime) else start
        if end is None:
            hi = None
        elif isinstance(end, datetime):
            hi = end + timedelta(microseconds=1)
        else:
            hi = self.midnight(end + timedelta(days=1))
        return lo, hi

    def amount(self, value: Decimal) -> Decimal:
        """Major units of the account currency → minor units (what receipts store)."""
        return value * self.minor


NEVER = Q(pk__in=[])


class Fields:
    """Reads a criterion's fields, collecting every problem with its full path."""

    def __init__(self, raw: dict[str, Any], path: str, errors: list[tuple[str, str, str]]):
        self.raw = raw
        self.path = path
        self.errors = errors
        self.out: dict[str, Any] = {}

    def _err(self, name: str, message: str, code: str = "invalid") -> None:
        self.errors.append((f"{self.path}.{name}", message, code))

    def fail(self, name: str, message: str, code: str = "invalid") -> None:
        """A problem a criterion's own check finds, on its field `name`."""
        self._err(name, message, code)

    def _get(self, name: str, required: bool) -> Any:
        value = self.raw.get(name)
        if value is None and required:
            self._err(name, "This value should not be blank.", "required")
        return value

    def integer(
        self, name: str, *, required: bool = True, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        value = self._get(name, required)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | str)
            or (isinstance(value, str) and not value.strip().lstrip("-").isdigit())
        ):
            self._err(name, "This value should be a whole number.")
            return None
        number = int(value)
        if minimum is not None and number < minimum:
            self._err(name, f"This value should be {minimum} or more.", "too_small")
            return None
        if maximum is not None and number > maximum:
            self._err(name, f"This value should be {maximum} or less.", "too_large")
            return None
        self.out[name] = number
        return number

    def decimal(
        self, name: str, *, required: bool = True, minimum: Decimal | None = None, maximum: Decimal | None = None
    ) -> Decimal | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self._err(name, "This value should be a number.")
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self._err(name, "This value should be a number.")
            return None
        if not number.is_finite() or abs(number) > Decimal("1e15"):
            self._err(name, "This value is out of range.")
            return None
        exponent = number.as_tuple().exponent  # an int for every finite number
        if isinstance(exponent, int) and exponent < -4:
            self._err(name, "This value should have at most 4 decimals.")
            return None
        if minimum is not None and number < minimum:
            self._err(name, f"This value should be {minimum} or more.", "too_small")
            return None
        if maximum is not None and number > maximum:
            self._err(name, f"This value should be {maximum} or less.", "too_large")
            return None
        self.out[name] = number
        return number

    def when(self, name: str, *, required: bool = True) -> date | datetime | None:
        """A date (YYYY-MM-DD, the whole day in the account's timezone) or a date-time with a timezone."""
        value = self._get(name, required)
        if value is None:
            return None
        parsed: date | datetime | None = None
        if isinstance(value, str):
            text = value.strip()
            try:
                if len(text) == 10:
                    parsed = date.fromisoformat(text)
                else:
                    candidate = datetime.fromisoformat(text)
                    parsed = candidate if candidate.tzinfo is not None else None
            except ValueError:
                parsed = None
        if parsed is None:
            self._err(name, "This value should be a date (2024-05-01) or a date-time with a timezone.")
            return None
        if not date(1900, 1, 1) <= (parsed.date() if isinstance(parsed, datetime) else parsed) <= date(2999, 12, 31):
            self._err(name, "This date is out of range.")
            return None
        self.out[name] = parsed
        return parsed

    def text(self, name: str, *, required: bool = True, max_length: int = 255) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip() or len(value) > max_length:
            self._err(name, f"This value should be a non-empty text of at most {max_length} characters.")
            return None
        self.out[name] = value.strip()
        return value.strip()

    def boolean(self, name: str, *, required: bool = True) -> bool | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, bool):
            self._err(name, "This value should be true or false.")
            return None
        self.out[name] = value
        return value

    def choice(self, name: str, choices: tuple[str, ...], *, required: bool = True) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if value not in choices:
            self._err(name, f"The value you selected is not a valid choice ({', '.join(choices)}).", "invalid_choice")
            return None
        self.out[name] = value
        return value

    def _list(self, name: str, *, max_items: int) -> list[Any] | None:
        """The field as a non-empty list of at most `max_items`, or None with the error recorded."""
        value = self._get(name, True)
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            self._err(name, "This value should be a non-empty list.")
            return None
        if len(value) > max_items:
            self._err(name, f"This list should contain {max_items} items or fewer.", "too_many")
            return None
        return value

    def strings(self, name: str, *, max_items: int = 1000, lower: bool = False) -> list[str] | None:
        value = self._list(name, max_items=max_items)
        if value is None:
            return None
        cleaned = []
        for index, item in enumerate(value):
            if isinstance(item, int | float) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str) or not item.strip() or len(item) > 255:
                self.errors.append(
                    (
                        f"{self.path}.{name}[{index}]",
                        "This value should be a non-empty text of at most 255 characters.",
                        "invalid",
                    )
                )
                continue
            cleaned.append(item.strip().lower() if lower else item.strip())
        self.out[name] = cleaned
        return cleaned

    def objects(
        self, name: str, keys: tuple[str, ...], *, required_keys: tuple[str, ...], max_items: int = 100
    ) -> list[dict[str, str]] | None:
        value = self._list(name, max_items=max_items)
        if value is None:
            return None
        cleaned = []
        for index, item in enumerate(value):
            entry = self._object(item, f"{self.path}.{name}[{index}]", keys, required_keys)
            if entry is not None:
                cleaned.append(entry)
        self.out[name] = cleaned
        return cleaned

    def _object(
        self, item: Any, item_path: str, keys: tuple[str, ...], required_keys: tuple[str, ...]
    ) -> dict[str, str] | None:
        """One entry of an objects list: its non-empty text keys, or None (with the problems recorded)."""
        if not isinstance(item, dict):
            self.errors.append((item_path, "This value should be an object.", "invalid"))
            return None
        entry = {}
        for key in keys:
            part = item.get(key)
            if part is None:
                if key in required_keys:
                    self.errors.append((f"{item_path}.{key}", "This value should not be blank.", "required"))
                continue
            if isinstance(part, int | float) and not isinstance(part, bool):
                part = str(part)
            if not isinstance(part, str) or not part.strip() or len(part) > 255:
                self.errors.append((f"{item_path}.{key}", "This value should be a non-empty text.", "invalid"))
                continue
            entry[key] = part.strip()
        if not any(k in entry for k in keys):
            if not required_keys:
                self.errors.append((item_path, f"Give at least one of: {', '.join(keys)}.", "required"))
            return None
        return entry

    def ordered(self, low: str, high: str) -> None:
        a, b = self.out.get(low), self.out.get(high)
        if a is not None and b is not None:
            a_key = a if not isinstance(a, date) or isinstance(a, datetime) else datetime.combine(a, time.min)
            b_key = b if not isinstance(b, date) or isinstance(b, datetime) else datetime.combine(b, time.min)
            try:
                bad = a_key > b_key
            except TypeError:  # an aware date-time against a date: compare the dates
                bad = (a.date() if isinstance(a, datetime) else a) > (b.date() if isinstance(b, datetime) else b)
            if bad:
                self._err(high, f"This value should not be lower than {low}.", "range")

    def at_least_one(self, *names: str) -> None:
        if all(self.raw.get(n) is None for n in names):
            self._err(names[0], f"Give at least one of: {', '.join(names)}.", "required")
