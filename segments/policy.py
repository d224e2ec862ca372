"""Refresh policies: when a segment recalculates by itself.

`{"onNewReceipts": bool, "schedule": null | {"type": "every", "minutes": N} | {"type": "daily", "at": "HH:MM"}
  | {"type": "cron", "expression": "m h dom mon dow"}}` — times in the account's timezone. Manual = neither.
New segments get `on_new_receipts` plus a daily run (time-window criteria move every day).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.core.errors import FieldError, ValidationFailed

DEFAULT_POLICY: dict[str, Any] = {"onNewReceipts": True, "schedule": {"type": "daily", "at": "03:00"}}
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MIN_EVERY, MAX_EVERY = 5, 24 * 60


class PolicyError(ValidationFailed):
    """Problems of a refresh policy: `errors` as (path, message, code), also the DomainError's field errors."""

    def __init__(self, errors: list[tuple[str, str, str]]):
        super().__init__(
            "Validation failed.", field_errors=[FieldError(path, message, code) for path, message, code in errors]
        )
        self.errors = errors

    def __str__(self) -> str:
        return "; ".join(f"{p}: {m}" for p, m, _ in self.errors)


Errors = list[tuple[str, str, str]]


def validate_policy(raw: Any, path: str = "refreshPolicy") -> dict[str, Any]:
    if raw is None:
        return dict(DEFAULT_POLICY)
    errors: Errors = []
    if not isinstance(raw, dict):
        raise PolicyError([(path, "This value should be an object with onNewReceipts and schedule.", "invalid")])
    on_new = raw.get("onNewReceipts", True)
    if not isinstance(on_new, bool):
        errors.append((f"{path}.onNewReceipts", "This value should be true or false.", "invalid"))
    schedule = raw.get("schedule")
    cleaned = None if schedule is None else _schedule(schedule, f"{path}.schedule", errors)
    if errors:
        raise PolicyError(errors)
    return {"onNewReceipts": on_new, "schedule": cleaned}


def _schedule(schedule: Any, path: str, errors: Errors) -> dict[str, Any] | None:
    kind = schedule.get("type") if isinstance(schedule, dict) else None
    check = _SCHEDULES.get(kind) if isinstance(kind, str) else None
    if check is None:
        errors.append(
            (f"{path}.type", "The value you selected is not a valid choice (every, daily, cron).", "invalid_choice")
        )
        return None
    return check(schedule, path, errors)


def _every(schedule: dict[str, Any], path: str, errors: Errors) -> dict[str, Any] | None:
    minutes = schedule.get("minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not MIN_EVERY <= minutes <= MAX_EVERY:
        message = f"This value should be a whole number of minutes between {MIN_EVERY} and {MAX_EVERY}."
        errors.append((f"{path}.minutes", message, "invalid"))
        return None
    return {"type": "every", "minutes": minutes}


def _daily(schedule: dict[str, Any], path: str, errors: Errors) -> dict[str, Any] | None:
    at = schedule.get("at")
    if not isinstance(at, str) or not HHMM.match(at):
        errors.append((f"{path}.at", "This value should be a time of day as HH:MM.", "invalid"))
        return None
    return {"type": "daily", "at": at}


def _cron(schedule: dict[str, Any], path: str, errors: Errors) -> dict[str, Any] | None:
    expression = schedule.get("expression")
    try:
        Cron(expression if isinstance(expression, str) else "")
    except ValueError as exc:
        errors.append((f"{path}.expression", f"This is not a cron expression: {exc}.", "invalid"))
        return None
    assert isinstance(expression, str)
    return {"type": "cron", "expression": " ".join(expression.split())}


_SCHEDULES: dict[str, Callable[[dict[str, Any], str, Errors], dict[str, Any] | None]] = {
    "every": _every,
    "daily": _daily,
    "cron": _cron,
}


def next_due(policy: dict[str, Any], *, after: datetime, timezone: str) -> datetime | None:
    """The first scheduled instant strictly after `after`, or None without a schedule."""
    schedule = policy.get("schedule")
    if not schedule:
        return None
    tz = ZoneInfo(timezone)
    if schedule["type"] == "every":
        step = schedule["minutes"] * 60
        seconds = int(after.timestamp())
        return datetime.fromtimestamp((seconds // step + 1) * step, tz=after.tzinfo or tz)
    if schedule["type"] == "daily":
        hour, minute = (int(x) for x in schedule["at"].split(":"))
        local = after.astimezone(tz)
        day = local.date()
        for offset in range(3):
            candidate = _local(day + timedelta(days=offset), time(hour, minute), tz)
            if candidate > after:
                return candidate
        raise AssertionError("unreachable")
    return Cron(schedule["expression"]).next_after(after, tz)


def _local(day, at: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time in a timezone; a time skipped by a DST jump moves forward with the clock."""
    candidate = datetime.combine(day, at, tzinfo=tz)
    roundtrip = candidate.astimezone(ZoneInfo("UTC")).astimezone(tz)
    return candidate if roundtrip.replace(tzinfo=None) == candidate.replace(tzinfo=None) else roundtrip


class Cron:
    """Five-field cron (minute hour day-of-month month day-of-week) with *, lists, ranges and steps."""

    RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))

    def __init__(self, expression: str):
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError("five fields are needed: minute hour day-of-month month day-of-week")
        self.fields = [
            self._parse(field, lo, hi, index)
            for index, (field, (lo, hi)) in enumerate(zip(fields, self.RANGES, strict=True))
        ]
        self.dom_any = fields[2] == "*"
        self.dow_any = fields[4] == "*"

    @staticmethod
    def _parse(field: str, lo: int, hi: int, index: int) -> set[int]:
        values: set[int] = set()
        for chunk in field.split(","):
            step = 1
            if "/" in chunk:
                chunk, step_text = chunk.split("/", 1)
                if not step_text.isdigit() or int(step_text) == 0:
                    raise ValueError(f"bad step in {field!r}")
                step = int(step_text)
            if chunk == "*":
                start, end = lo, hi
            elif "-" in chunk:
                a, b = chunk.split("-", 1)
                if not (a.isdigit() and b.isdigit()):
                    raise ValueError(f"bad range in {field!r}")
                start, end = int(a), int(b)
            elif chunk.isdigit():
                start = end = int(chunk)
            else:
                raise ValueError(f"bad value {chunk!r}")
            if index == 4 and end == 7:  # Sunday as 7
                end = 7
            if start > end or start < lo or end > (7 if index == 4 else hi):
                raise ValueError(f"{field!r} is out of range {lo}-{hi}")
            values.update(v % 7 if index == 4 else v for v in range(start, end + 1, step))
        return values

    def _day_matches(self, day) -> bool:
        dom = day.day in self.fields[2]
        dow = (day.isoweekday() % 7) in self.fields[4]
        if self.dom_any and self.dow_any:
            return True
        if self.dom_any:
            return dow
        if self.dow_any:
            return dom
        return dom or dow  # classic cron: either restricted day field matches

    def next_after(self, after: datetime, tz: ZoneInfo) -> datetime:
        local = after.astimezone(tz).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = local.date()
        for _ in range(366 * 5):
            if day.month in self.fields[3] and self._day_matches(day):
                for hour in sorted(self.fields[1]):
                    for minute in sorted(self.fields[0]):
                        candidate = _local(day, time(hour, minute), tz)
                        if candidate > after:
                            return candidate
            day += timedelta(days=1)
        raise ValueError("the expression never fires")
