"""Realistic synthetic receipts for demos, tests and benchmarks.

The shape follows the measured dataset in the design notes: customer activity is lognormal, each customer has a
home store that gets most of their receipts, store sizes and item popularity are Zipf-like, items belong to one
group each, baskets have 1-15 lines, a fifth of the receipts are anonymous, and receipts arrive in time order.
Everything is drawn from one seeded RNG, so the same parameters give the same data.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from receipts.documents import NON_PURCHASE_STATUSES, ParsedReceipt, line_codes, parse_profile

FIRST_NAMES = [
    "Kari",
    "Ola",
    "Ingrid",
    "Lars",
    "Nora",
    "Emil",
    "Sofie",
    "Jakob",
    "Maja",
    "Filip",
    "Ella",
    "Noah",
    "Sara",
    "Henrik",
    "Ida",
    "Magnus",
    "Thea",
    "Sander",
    "Emma",
    "Oskar",
    "Linnea",
    "Aksel",
    "Hedda",
]
LAST_NAMES = [
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Johnsen",
    "Pettersen",
    "Eriksen",
    "Berg",
    "Haugen",
    "Hagen",
    "Bakken",
    "Dahl",
]
CITIES = [
    ("Oslo", "0150"),
    ("Bergen", "5003"),
    ("Trondheim", "7010"),
    ("Stavanger", "4006"),
    ("Tromsø", "9008"),
    ("Drammen", "3015"),
    ("Fredrikstad", "1606"),
    ("Kristiansand", "4610"),
    ("Ålesund", "6002"),
    ("Bodø", "8006"),
]
GROUP_WORDS = [
    "Dairy",
    "Bakery",
    "Produce",
    "Coffee",
    "Snacks",
    "Frozen",
    "Drinks",
    "Meat",
    "Fish",
    "Household",
    "Toys",
    "Garden",
    "Books",
    "Sports",
    "Beauty",
    "Pets",
    "Kitchen",
    "Outdoor",
    "Tools",
    "Clothing",
]
BRANDS = ["Tine", "Nordic", "Fjord", "Polar", "Viking", "Aurora", "Nidar", "Mills", "Freia", "Kavli", "Stabburet"]
COLORS = ["black", "white", "red", "blue", "green", "grey"]
SIZES = ["XS", "S", "M", "L", "XL"]
PAYMENT_TYPES = ["card", "card", "vipps", "cash"]
STATUSES = ["Concluded"] * 960 + ["Voided"] * 15 + ["Cancelled"] * 10 + ["Training"] * 5 + ["Reprinted"] * 10


CHUNK = 10_000  # receipts per chunk: each covers its slice of the period


def _zipf_cum_weights(n: int, s: float) -> list[float]:
    total, out = 0.0, []
    for rank in range(1, n + 1):
        total += 1.0 / rank**s
        out.append(total)
    return out


@dataclass(frozen=True)
class GeneratorSpec:
    receipts: int
    customers: int
    stores: int
    days: int
    seed: int = 1
    items: int = 2_000
    groups: int = 100
    anonymous_share: float = 0.2
    end: datetime | None = None  # the newest receipt; default now
    prefix: str = ""  # receipt ids are "<prefix><seed>-<n>", unique per seed


class ReceiptGenerator:
    def __init__(self, spec: GeneratorSpec):
        self.spec = spec
        self.rng = random.Random(spec.seed)
        rng = self.rng
        self.end = (spec.end or datetime.now(UTC)).astimezone(UTC)
        self.start = self.end - timedelta(days=spec.days)

        self.stores = [
            {"id": f"S{n:03d}", "name": f"{CITIES[n % len(CITIES)][0]} {GROUP_WORDS[n % len(GROUP_WORDS)]} {n}"}
            for n in range(1, spec.stores + 1)
        ]
        self.store_cum = _zipf_cum_weights(spec.stores, 0.7)

        self.groups = [
            {"id": f"G{n:04d}", "name": f"{GROUP_WORDS[n % len(GROUP_WORDS)]} {n}"} for n in range(1, spec.groups + 1)
        ]
        group_cum = _zipf_cum_weights(spec.groups, 0.8)
        item_groups = rng.choices(self.groups, cum_weights=group_cum, k=spec.items)
        self.items = []
        for n in range(1, spec.items + 1):
            group = item_groups[n - 1]
            price = max(100, int(math.exp(rng.gauss(math.log(3500), 0.8))))  # minor units, median 35.00
            item: dict[str, Any] = {
                "id": f"I{n:06d}",
                "group": group,
                "price": price,
                "description": f"{group['name'].split()[0]} item {n}",
            }
            if group["name"].startswith("Clothing") or rng.random() < 0.05:
                item["dimension"] = {"color": rng.choice(COLORS), "size": rng.choice(SIZES)}
            if rng.random() < 0.25:
                item["brand"] = rng.choice(BRANDS)
            self.items.append(item)
        self.item_cum = _zipf_cum_weights(spec.items, 0.9)
        self.introduced: set[str] = set()
        self._item_indexes = range(spec.items)
        self._templates: list[tuple | None] = [None] * spec.items  # per-item line parts, made on first use
        self._id_prefix = f"{spec.prefix}{spec.seed}-"

        self.customers = []
        weights = []
        for n in range(1, spec.customers + 1):
            city, postal = rng.choice(CITIES)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            birthday = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 65))
            customer_id = f"C{n:07d}"
            profile = {
                "first_name": first,
                "last_name": last,
                "email": f"{first.lower()}.{last.lower()}.{n}@example.com",
                "phone_number": f"+479{n:07d}",
                "gender": rng.choice(["female", "male", "female", "male", "other"]),
                "date_of_birth": birthday.isoformat(),
                "addresses": [
                    {
                        "address_line": f"Storgata {n % 200 + 1}",
                        "postal_code": postal,
                        "postal_place": city,
                        "country": "NO",
                    }
                ],
                "marketing_consent": {"email": {"consent": rng.random() < 0.6}, "sms": {"consent": rng.random() < 0.4}},
                "status": "vip" if rng.random() < 0.05 else "member",
                "metadata": {"member_since": (self.start - timedelta(days=rng.randrange(0, 2000))).date().isoformat()},
                "token": {"value": f"{9000000000 + n}", "type": "loyalty_card"},
            }
            home = rng.choices(range(spec.stores), cum_weights=self.store_cum)[0]
            self.customers.append((customer_id, profile, parse_profile(profile), home))
            weights.append(math.exp(rng.gauss(0, 1)))
        total = 0.0
        self.customer_cum = []
        for weight in weights:
            total += weight
            self.customer_cum.append(total)

    def __iter__(self) -> Iterator[ParsedReceipt]:
        for chunk in self.chunks():
            yield from chunk

    def chunks(self, shard: int = 0, shards: int = 1) -> Iterator[list[ParsedReceipt]]:
        """Every `shards`-th chunk of CHUNK receipts, starting at `shard`; each chunk covers its slice of the period,
        time-ordered inside.

        One shard is the whole stream, drawn from the seed's RNG. Shard k of several draws from an RNG seeded for
        it, so loader processes generate in parallel and the same (seed, shards) give the same receipts.
        """
        spec = self.spec
        if shards > 1:
            self.rng = random.Random(spec.seed * 1_000 + shard)
        rng = self.rng
        span = (self.end - self.start).total_seconds()
        for first in range(shard * CHUNK, spec.receipts, shards * CHUNK):
            size = min(CHUNK, spec.receipts - first)
            lo, hi = span * first / spec.receipts, span * (first + size) / spec.receipts
            offsets = sorted(rng.uniform(lo, hi) for _ in range(size))
            buyers = (
                rng.choices(self.customers, cum_weights=self.customer_cum, k=size) if self.customers else [None] * size
            )
            start = self.start
            yield [self._receipt(first + k + 1, start + timedelta(seconds=offsets[k]), buyers[k]) for k in range(size)]

    def _line_template(self, index: int) -> tuple[str, str, int, list, dict | None, list | None, list]:
        """What every line of an item shares: id, description, price, groups, dimension, extra info, and the codes
        it contributes (from `line_codes` itself, so a receipt's codes are exactly what parsing would find)."""
        item = self.items[index]
        line: dict[str, Any] = {"id": item["id"], "description": item["description"], "groups": [item["group"]]}
        if "dimension" in item:
            line["dimension"] = item["dimension"]
        if "brand" in item:
            line["extra_info"] = [{"key": "brand", "value": item["brand"], "value_type": "string"}]
        codes = {(kind, value): (kind, value, name) for kind, value, name in line_codes([line])}
        template = (
            line["id"],
            line["description"],
            item["price"],
            line["groups"],
            line.get("dimension"),
            line.get("extra_info"),
            list(codes.items()),
        )
        self._templates[index] = template
        return template

    def _receipt(self, n: int, at: datetime, buyer) -> ParsedReceipt:
        # The hot path: the same random draws in the same order as a plain version would make, with the per-item
        # parts of each line (and its codes) prepared once. Lines share those parts between receipts; the document
        # is only ever read.
        rng, spec = self.rng, self.spec
        random = rng.random
        anonymous = buyer is None or random() < spec.anonymous_share
        if not anonymous and random() < 0.75:
            store = self.stores[buyer[3]]
        else:
            store = rng.choices(self.stores, cum_weights=self.store_cum)[0]
        at = at.replace(microsecond=0)
        lines = min(15, 1 + _poisson(rng, 3))
        templates = self._templates
        items, gross, codes = [], 0, {}
        for line_id, index in enumerate(rng.choices(self._item_indexes, cum_weights=self.item_cum, k=lines), start=1):
            template = templates[index] or self._line_template(index)
            item_id, description, price, groups, dimension, extra_info, item_codes = template
            quantity = 1 if random() < 0.85 else rng.randint(2, 4)
            amount = price * quantity
            gross += amount
            line: dict[str, Any] = {
                "line_id": line_id,
                "id": item_id,
                "description": description,
                "quantity": quantity,
                "unit_gross_price": price,
                "gross_amount": amount,
                "net_amount": amount,
                "groups": groups,
                "eligible_for_discount": True,
            }
            if dimension is not None:
                line["dimension"] = dimension
            if extra_info is not None:
                line["extra_info"] = extra_info
            items.append(line)
            codes.update(item_codes)  # first occurrence keeps its place; a code's name is the same on every line
        status = rng.choice(STATUSES)
        receipt_id = f"{self._id_prefix}{n}"
        document: dict[str, Any] = {
            "store": store,
            "receipt_id": receipt_id,
            "purchase_at": at.isoformat().replace("+00:00", "Z"),
            "currency": "NOK",
            "gross_amount": gross,
            "net_amount": gross,
            "entry_status": status,
            "items": items,
            "payments": [{"line_id": 1, "amount": gross, "type_id": rng.choice(PAYMENT_TYPES)}],
        }
        customer_id = None
        profile = None
        if not anonymous:
            customer_id, customer_document, customer_profile, _ = buyer
            document["customer_id"] = customer_id
            # Like most POS systems: the full customer object on the first receipt, then now and then.
            introduced = self.introduced
            if customer_id not in introduced or random() < 0.2:
                introduced.add(customer_id)
                document["customer"] = customer_document
                profile = customer_profile
        receipt_codes = list(codes.values())
        receipt_codes.append(("store", store["id"], store["name"]))
        return ParsedReceipt(
            index=n,
            document=document,
            receipt_id=receipt_id,
            store_id=store["id"],
            customer_id=customer_id,
            purchase_at=at,
            currency="NOK",
            gross_amount=gross,
            net_amount=gross,
            entry_status=status,
            is_purchase=status not in NON_PURCHASE_STATUSES,
            item_count=lines,
            codes=receipt_codes,
            profile=profile,
        )


class GeneratedChunks:
    """A ChunkSource (receipts.services.bulk) of generated receipts: loader process k generates every k-th chunk
    itself, so nothing but chunk numbers crosses between processes."""

    def __init__(self, spec: GeneratorSpec):
        self.generator = ReceiptGenerator(spec)  # made once here; the forked loaders share its catalogue
        self._chunks: Iterator[list[ParsedReceipt]] | None = None

    def tasks(self) -> Iterator[int]:
        return iter(range(-(-self.generator.spec.receipts // CHUNK)))

    def prepare(self, task: int, *, shard: int, shards: int) -> tuple[list[ParsedReceipt], list[str]]:
        if self._chunks is None:
            self._chunks = self.generator.chunks(shard, shards)
        return next(self._chunks), []


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, product = math.exp(-lam), 0, rng.random()
    while product > threshold:
        k += 1
        product *= rng.random()
    return k
