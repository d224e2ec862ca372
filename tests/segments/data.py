"""Seeded receipt streams with the edge cases the segment semantics care about.

Receipts land exactly on local midnights and a microsecond either side, amounts sit on criteria boundaries, profiles
mix case, leap-day birthdays, missing consents and every entry status.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

STORES = [f"s{n}" for n in range(1, 7)]
GROUPS = ["g1", "g2", "G3", "g4", "g5", "g6", "g7", "g8"]
ITEMS = {f"i{n}": GROUPS[n % 8 : n % 8 + 1 + n % 2] for n in range(1, 31)}
COLORS = ["Red", "blue", "GREEN"]
MAKERS = [("Brand", "Acme"), ("maker", "acme"), ("brand", "Zeta"), ("MAKER", "Nord ")]
STATUSES = ["Concluded"] * 17 + ["Posted"] + ["Voided", "Training", "Cancelled"]
CITIES = [("Oslo", "NO", "0150"), ("bergen", "no", "5003"), ("Stockholm", "SE", "111 20"), ("TROMSØ", "NO", "9008")]


def iso(at: datetime) -> str:
    return at.isoformat()


def dataset(
    *, seed: int, timezone: str, now: datetime, customers: int = 220, receipts: int = 1400
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    people = [f"c{n:03d}" for n in range(customers)]
    profiles = {cid: _profile(rng, cid, today) for cid in people}
    docs = []
    for n in range(receipts):
        at = _instant(rng, today, tz, now)
        customer_id = None if rng.random() < 0.15 else rng.choice(people[: rng.choice([customers, customers // 3])])
        lines = [_line(rng, line_id) for line_id in range(1, rng.randint(1, 4) + 1)]
        net = rng.choice([rng.randrange(0, 200_000), 10_000, 50_000, 100_000, -rng.randrange(100, 20_000)])
        doc: dict[str, Any] = {
            "store": {"id": rng.choice(STORES)},
            "receipt_id": f"R{seed}-{n}",
            "purchase_at": iso(at),
            "currency": "NOK",
            "gross_amount": abs(net),
            "net_amount": net,
            "entry_status": rng.choice(STATUSES),
            "items": lines,
        }
        if customer_id is not None:
            doc["customer_id"] = customer_id
            if rng.random() < 0.7:
                doc["customer"] = profiles[customer_id] if rng.random() < 0.85 else _profile(rng, customer_id, today)
        docs.append(doc)
    return docs


def _instant(rng: random.Random, today: date, tz: ZoneInfo, now: datetime) -> datetime:
    """A purchase time, often exactly on a local midnight or a microsecond either side, never far in the future."""
    day = today - timedelta(days=rng.choice([rng.randrange(0, 15), rng.randrange(0, 130), rng.randrange(0, 40)]))
    midnight = datetime.combine(day, time.min, tzinfo=tz)
    shape = rng.random()
    if shape < 0.08:
        at = midnight
    elif shape < 0.12:
        at = midnight - timedelta(microseconds=1)
    elif shape < 0.14:
        at = midnight + timedelta(days=1) - timedelta(microseconds=1)
    else:
        at = midnight + timedelta(seconds=rng.randrange(0, 86400))
    if at > now + timedelta(hours=2):
        at = now - timedelta(minutes=rng.randrange(1, 600))
    return at


def _line(rng: random.Random, line_id: int) -> dict[str, Any]:
    item = rng.choice(list(ITEMS))
    line: dict[str, Any] = {
        "line_id": line_id,
        "id": item,
        "quantity": 1,
        "gross_amount": 5000,
        "net_amount": 5000,
        "groups": [{"id": g, "name": g.upper()} for g in ITEMS[item]],
    }
    if rng.random() < 0.3:
        line["dimension"] = {"color": rng.choice(COLORS), "size": rng.choice(["S", "M"])}
    if rng.random() < 0.3:
        key, value = rng.choice(MAKERS)
        line["extra_info"] = [{"key": key, "value": value}]
    if rng.random() < 0.06:
        line["voided"] = True
    if rng.random() < 0.04:
        line["is_return_item"] = True
    return line


def _profile(rng: random.Random, customer_id: str, today: date) -> dict[str, Any]:
    birthday_kind = rng.random()
    if birthday_kind < 0.1:
        dob = date(2000, 2, 29).isoformat()
    elif birthday_kind < 0.25:
        dob = (
            (today + timedelta(days=rng.randrange(0, 10))).replace(year=rng.randrange(1950, 2005)).isoformat()
            if not (today.month == 2 and today.day == 29)
            else "1990-03-01"
        )
    elif birthday_kind < 0.35:
        dob = None
    else:
        dob = date(rng.randrange(1940, 2012), rng.randrange(1, 13), rng.randrange(1, 29)).isoformat()
    city, country, postal = rng.choice(CITIES)
    profile: dict[str, Any] = {
        "first_name": rng.choice(["Kari", "Ola", "Åse"]),
        "last_name": "Nordmann",
        "email": f"{customer_id}@Example.com" if rng.random() < 0.5 else f"{customer_id}@example.com",
        "phone_number": f"+47{rng.randrange(40000000, 99999999)}",
        "gender": rng.choice(["male", "female", "Female", "other", ""]),
        "addresses": [{"address_line": "Gate 1", "postal_place": city, "country": country, "postal_code": postal}],
        "metadata": rng.choice(
            [{}, {"Tier": "Gold"}, {"tier": "silver", "vip": True}, {"dob_year": 1985}, {"Club": "Run"}]
        ),
        "status": rng.choice(["VIP", "member", "", ""]),
        "token": {"value": f"card-{customer_id}"},
    }
    if dob:
        profile["date_of_birth"] = dob
    consent = rng.random()
    if consent < 0.4:
        profile["marketing_consent"] = {"email": {"consent": True}, "sms": {"consent": rng.random() < 0.5}}
    elif consent < 0.7:
        profile["marketing_consent"] = {"email": {"consent": False}}
    return profile
