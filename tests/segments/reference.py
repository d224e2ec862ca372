"""A small, obviously-correct Python model of the segment semantics, to compare the SQL engine with.

It reads nothing but the receipt documents as they were posted, and follows segments/README.md literally:
loops and dictionaries, no cleverness.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

NOT_PURCHASES = {"Voided", "Cancelled", "Training"}


def parse_when(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class Line:
    item_id: str | None
    groups: list[str]
    labels: dict[str, str]  # dimension, as posted
    makers: list[str]


@dataclass
class Purchase:
    at: datetime
    store: str
    net: int
    lines: list[Line]


@dataclass
class Person:
    customer_id: str
    purchases: list[Purchase] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    profile_at: datetime | None = None


def build(documents: list[dict[str, Any]]) -> dict[str, Person]:
    people: dict[str, Person] = {}
    for doc in documents:
        customer_id = doc.get("customer_id")
        if not customer_id:
            continue
        person = people.setdefault(customer_id, Person(customer_id))
        at = parse_when(doc["purchase_at"])
        if (
            isinstance(doc.get("customer"), dict)
            and doc["customer"]
            and (person.profile_at is None or at >= person.profile_at)
        ):
            person.profile, person.profile_at = doc["customer"], at
        if doc.get("entry_status") in NOT_PURCHASES:
            continue
        lines = []
        for raw in doc.get("items", []):
            if raw.get("voided") is True or raw.get("is_return_item") is True:
                continue
            makers = [
                str(e["value"]).strip().lower()
                for e in raw.get("extra_info", [])
                if str(e.get("key", "")).strip().lower() in ("maker", "brand") and str(e.get("value", "")).strip()
            ]
            lines.append(
                Line(raw.get("id"), [g["id"] for g in raw.get("groups", [])], raw.get("dimension") or {}, makers)
            )
        person.purchases.append(Purchase(at, doc["store"]["id"], doc.get("net_amount") or 0, lines))
    return people


class Reference:
    def __init__(self, documents: list[dict[str, Any]], *, timezone: str, now: datetime, currency_minor: int = 100):
        self.people = build(documents)
        self.tz = ZoneInfo(timezone)
        self.now = now
        self.minor = currency_minor
        self.today = now.astimezone(self.tz).date()

    # --- helpers ------------------------------------------------------------------------------------------------

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.tz)

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def bounds(self, start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
        """Criterion dates are inclusive; a bare date means that whole day in the account's timezone."""
        lo = hi = None
        if start is not None:
            lo = self.midnight(date.fromisoformat(start)) if len(start) == 10 else parse_when(start)
        if end is not None:
            hi = (
                self.midnight(date.fromisoformat(end) + timedelta(days=1))
                if len(end) == 10
                else parse_when(end) + timedelta(microseconds=1)
            )
        return lo, hi

    @staticmethod
    def inside(at: datetime, lo: datetime | None, hi: datetime | None) -> bool:
        return (lo is None or at >= lo) and (hi is None or at < hi)

    def in_range(self, value: Decimal | int, low: Any, high: Any, *, money: bool) -> bool:
        scale = self.minor if money else 1
        if low is not None and value < Decimal(str(low)) * scale:
            return False
        return not (high is not None and value > Decimal(str(high)) * scale)

    @staticmethod
    def metadata(person: Person) -> dict[str, Any]:
        meta = person.profile.get("metadata")
        return meta if isinstance(meta, dict) else {}

    # --- criteria ----------------------------------------------------------------------------------------------

    def matches(self, person: Person, c: dict[str, Any]) -> bool:
        kind = {"bought_in_pos": "bought_through_channel"}.get(c["type"], c["type"])
        return getattr(self, kind)(person, c)

    def bought_through_channel(self, p: Person, c) -> bool:
        return any(x.store in c["channelIds"] for x in p.purchases)

    def transaction_percent_in_channel(self, p: Person, c) -> bool:
        total = len(p.purchases)
        there = sum(1 for x in p.purchases if x.store == c["channelId"])
        return total > 0 and there * 100 >= Decimal(str(c["percent"])) * total

    def transaction_count(self, p: Person, c) -> bool:
        return self.in_range(len(p.purchases), c.get("min"), c.get("max"), money=False)

    def transaction_count_in_period(self, p: Person, c) -> bool:
        lo, hi = self.bounds(c["fromDate"], c["toDate"])
        return self.in_range(
            sum(1 for x in p.purchases if self.inside(x.at, lo, hi)), c.get("min"), c.get("max"), money=False
        )

    def average_transaction_amount(self, p: Person, c) -> bool:
        if not p.purchases:
            return False
        average = Decimal(sum(x.net for x in p.purchases)) / len(p.purchases)
        return self.in_range(average, c.get("fromAmount"), c.get("toAmount"), money=True)

    def transaction_amount(self, p: Person, c) -> bool:
        return self.in_range(sum(x.net for x in p.purchases), c.get("fromAmount"), c.get("toAmount"), money=True)

    def transaction_amount_in_period(self, p: Person, c) -> bool:
        lo, hi = self.bounds(c["fromDate"], c["toDate"])
        total = sum(x.net for x in p.purchases if self.inside(x.at, lo, hi))
        return self.in_range(total, c.get("fromAmount"), c.get("toAmount"), money=True)

    def transaction_amount_in_last_n_days(self, p: Person, c) -> bool:
        lo = self.midnight(self.today - timedelta(days=c["days"]))
        total = sum(x.net for x in p.purchases if x.at >= lo)
        return self.in_range(total, c.get("fromAmount"), c.get("toAmount"), money=True)

    def _each_day(self, p: Person, first: date, last: date, c) -> bool:
        day = first
        while day <= last:
            total = sum(x.net for x in p.purchases if self.local_day(x.at) == day)
            if not self.in_range(total, c.get("fromAmount"), c.get("toAmount"), money=True):
                return False
            day += timedelta(days=1)
        return True

    def transaction_amount_each_day_in_period(self, p: Person, c) -> bool:
        first = (
            date.fromisoformat(c["fromDate"][:10])
            if len(c["fromDate"]) == 10
            else self.local_day(parse_when(c["fromDate"]))
        )
        last = (
            date.fromisoformat(c["toDate"][:10]) if len(c["toDate"]) == 10 else self.local_day(parse_when(c["toDate"]))
        )
        return self._each_day(p, first, last, c)

    def transaction_amount_each_day_in_last_n_days(self, p: Person, c) -> bool:
        return self._each_day(p, self.today - timedelta(days=c["days"]), self.today, c)

    def purchase_period(self, p: Person, c) -> bool:
        lo, hi = self.bounds(c["fromDate"], c["toDate"])
        return any(self.inside(x.at, lo, hi) for x in p.purchases)

    def last_purchase_n_days_before(self, p: Person, c) -> bool:
        lo = self.midnight(self.today - timedelta(days=c["days"]))
        return any(x.at >= lo for x in p.purchases)

    def last_transaction_between_days(self, p: Person, c) -> bool:
        if not p.purchases:
            return False
        ago = (self.today - self.local_day(max(x.at for x in p.purchases))).days
        return c["fromDays"] <= ago <= c["toDays"]

    def bought_skus(self, p: Person, c) -> bool:
        return any(line.item_id in c["skuIds"] for x in p.purchases for line in x.lines)

    def bought_labels(self, p: Person, c) -> bool:
        for x in p.purchases:
            for line in x.lines:
                for want in c["labels"]:
                    key, value = want["key"].lower(), want["value"].lower()
                    if key == "group" and any(g.lower() == value for g in line.groups):
                        return True
                    for k, v in line.labels.items():
                        if str(k).strip().lower() == key and str(v).strip().lower() == value:
                            return True
        return False

    def bought_makers(self, p: Person, c) -> bool:
        wanted = {m.lower() for m in c["makers"]}
        return any(m in wanted for x in p.purchases for line in x.lines for m in line.makers)

    def bought_items(self, p: Person, c) -> bool:
        lo, hi = self.bounds(c.get("purchaseFrom"), c.get("purchaseTo"))
        count = 0
        for x in p.purchases:
            if not self.inside(x.at, lo, hi):
                continue
            if c.get("storeIds") is not None and x.store not in c["storeIds"]:
                continue
            if c.get("items") and not any(self._line_matches(line, e) for line in x.lines for e in c["items"]):
                continue
            count += 1
        return count >= (c.get("minPurchases") or 1)

    @staticmethod
    def _line_matches(line: Line, entry: dict[str, Any]) -> bool:
        """An items entry matches a line when every field it gives matches."""
        return (entry.get("id") is None or line.item_id == entry["id"]) and (
            entry.get("group") is None or entry["group"] in line.groups
        )

    def _month_days(self, days: int) -> set[str]:
        out = set()
        for offset in range(days):
            day = self.today + timedelta(days=offset)
            out.add(day.strftime("%m-%d"))
            leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
            if day.month == 2 and day.day == 28 and not leap:
                out.add("02-29")
        return out

    def anniversary(self, p: Person, c) -> bool:
        if c["anniversaryType"] == "birthday":
            dob = p.profile.get("date_of_birth")
            return bool(dob) and dob[5:10] in self._month_days(c["days"])
        if not p.purchases:
            return False
        first = self.local_day(min(x.at for x in p.purchases))
        return first.strftime("%m-%d") in self._month_days(c["days"])

    def member_registration_date(self, p: Person, c) -> bool:
        if not p.purchases:
            return False
        lo, hi = self.bounds(c["fromDate"], c["toDate"])
        return self.inside(min(x.at for x in p.purchases), lo, hi)

    def customer_list(self, p: Person, c) -> bool:
        email = str(p.profile.get("email", "")).strip().lower()
        phone = str(p.profile.get("phone_number", "")).strip()
        for entry in c["customers"]:
            if entry == p.customer_id or (email and entry.lower() == email) or (phone and entry == phone):
                return True
        return False

    customer_csv_list = customer_list

    def gender(self, p: Person, c) -> bool:
        return str(p.profile.get("gender", "")).strip().lower() in {g.lower() for g in c["genders"]}

    def age(self, p: Person, c) -> bool:
        dob = p.profile.get("date_of_birth")
        if not dob:
            return False
        born = date.fromisoformat(dob)
        years = self.today.year - born.year - ((self.today.month, self.today.day) < (born.month, born.day))
        return (c.get("min") is None or years >= c["min"]) and (c.get("max") is None or years <= c["max"])

    def _address_values(self, p: Person, key: str) -> set[str]:
        return {
            str(a.get(key, "")).strip().lower() for a in p.profile.get("addresses", []) if str(a.get(key, "")).strip()
        }

    def country(self, p: Person, c) -> bool:
        return bool(self._address_values(p, "country") & {v.lower() for v in c["countries"]})

    def city(self, p: Person, c) -> bool:
        return bool(self._address_values(p, "postal_place") & {v.lower() for v in c["cities"]})

    def postal(self, p: Person, c) -> bool:
        return bool(self._address_values(p, "postal_code") & {v.lower() for v in c["postalCodes"]})

    def customer_has_labels(self, p: Person, c) -> bool:
        keys = {k.lower() for k in self.metadata(p)}
        if str(p.profile.get("status", "")).strip():
            keys.add("status")
        return any(label["key"].lower() in keys for label in c["labels"])

    def customer_with_labels_values(self, p: Person, c) -> bool:
        meta = {str(k).lower(): v for k, v in self.metadata(p).items()}
        status = str(p.profile.get("status", "")).strip().lower()
        for label in c["labels"]:
            key, value = label["key"].lower(), label["value"].lower()
            if key == "status":
                if status and status == value:
                    return True
            elif key in meta and _text(meta[key]).lower() == value:
                return True
        return False

    def member_custom_field_value(self, p: Person, c) -> bool:
        meta = self.metadata(p)
        return c["key"] in meta and _text(meta[c["key"]]) == c["value"]

    def member_loyalty_card_number(self, p: Person, c) -> bool:
        token = p.profile.get("token") or {}
        return token.get("value") in c["cardNumbers"]

    def marketing_consent(self, p: Person, c) -> bool:
        consent = ((p.profile.get("marketing_consent") or {}).get(c["channel"]) or {}).get("consent")
        return consent is True if c["consent"] else consent is not True

    # --- segments ----------------------------------------------------------------------------------------------

    def segment(self, parts: list[dict[str, Any]]) -> set[str]:
        """Parts AND, criteria OR within a part; no parts = nobody."""
        if not parts:
            return set()
        return {
            p.customer_id
            for p in self.people.values()
            if all(any(self.matches(p, c) for c in part["criteria"]) for part in parts)
        }

    def customer_segment(self, body: dict[str, Any]) -> dict[str, int]:
        criterion = {
            "purchaseFrom": body.get("purchase_from"),
            "purchaseTo": None,
            "storeIds": body.get("store_ids"),
            "items": body.get("items"),
        }
        to = parse_when(body["purchase_to"]) if body.get("purchase_to") else None
        out = {}
        for person in self.people.values():
            n = 0
            for x in person.purchases:
                if to is not None and x.at > to:
                    continue
                if self.bought_items(Person(person.customer_id, [x]), criterion | {"minPurchases": 1}):
                    n += 1
            if n:
                out[person.customer_id] = n
        return out


def _text(value: Any) -> str:
    """How PostgreSQL's ->> renders a JSON scalar."""
    return value if isinstance(value, str) else json.dumps(value)
