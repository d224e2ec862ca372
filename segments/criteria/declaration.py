"""The declaration every criterion type makes once: label, builder group, typed fields with bounds, whether it
moves with the clock, its period fields, whether it is a customer list, what it means and an example.

Validation (`Criterion.validate`), the builder's inputs (`Field.builder_input`), the freshness rules
(segments.criteria: CLOCK_TYPES, PERIOD_FIELDS, LIST_TYPES) and the README's table (segments.criteria.readme) are
derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from django.db.models import Q

from segments.criteria.base import Context, Fields

PURCHASES = "Purchases"
WHAT_AND_WHERE = "What and where they bought"
PROFILE = "Customer profile"
GROUPS = (PURCHASES, WHAT_AND_WHERE, PROFILE)

# What the builder says each criterion reads (receipts.models.NON_PURCHASE_STATUSES are not purchases).
PURCHASES_COUNT = "Counts purchases: every receipt except voided, cancelled and training ones."
SPEND_COUNTS = (
    "Adds up net amounts (without tax) of purchases; voided, cancelled and training receipts do not count. "
    "Lists show gross (with tax) beside net."
)
LINES_COUNT = (
    "Counts purchases with a matching line; voided, cancelled and training receipts and returned lines do not count."
)
COUNTS_BY_TYPE = {
    "average_transaction_amount": "Net amount (without tax) of all purchases divided by their number; voided, "
    "cancelled and training receipts do not count.",
    "purchase_period": "Looks for a purchase on those days; voided, cancelled and training receipts do not count.",
    "last_purchase_n_days_before": "Looks at the day of the latest purchase (not a voided, cancelled or training "
    "receipt).",
    "last_transaction_between_days": "Looks at the day of the latest purchase (not a voided, cancelled or training "
    "receipt).",
    "member_registration_date": "Looks at the day of the customer's first receipt.",
    "transaction_percent_in_channel": "Purchases in that store as a share of all their purchases; voided, cancelled "
    "and training receipts do not count.",
    "customer_list": "Customers named in the list, by customer id, e-mail or phone; receipts do not matter.",
    "customer_csv_list": "Customers named in the file's first column; receipts do not matter.",
}

# The builder's input kinds, and how each validates.
KINDS = frozenset(
    {"int", "decimal", "amount", "date", "text", "store", "textarea", "choice", "tokens", "stores", "keys",
     "key_values", "item_objects"}
)  # fmt: skip
_OBJECT_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "keys": (("key",), ("key",)),
    "key_values": (("key", "value"), ("key", "value")),
    "item_objects": (("id", "group"), ()),
}


@dataclass(frozen=True)
class Field:
    """One field of a criterion: its name in the definition, the builder's label and input kind, and its bounds."""

    name: str
    label: str
    kind: str
    required: bool = True  # lists and objects that are not required are validated only when given
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    boolean: bool = False  # a choice of "true"/"false" stored as a boolean
    lower: bool = False  # lists compared case-insensitively (stored lower-cased)
    max_items: int = 1000
    max_length: int = 255
    note: str = ""  # what the README adds about the field
    ui: tuple[tuple[str, Any], ...] = ()  # builder-only hints (wide, suggest, options, optional)

    def validate(self, f: Fields) -> None:
        if self.kind in _OBJECT_KEYS:
            if self.required or f.raw.get(self.name) is not None:
                keys, required_keys = _OBJECT_KEYS[self.kind]
                f.objects(self.name, keys, required_keys=required_keys)
        elif self.kind in ("tokens", "stores"):
            if self.required or f.raw.get(self.name) is not None:
                f.strings(self.name, max_items=self.max_items, lower=self.lower)
        else:
            self._validate_scalar(f)

    def _validate_scalar(self, f: Fields) -> None:
        if self.kind == "int":
            f.integer(self.name, required=self.required, minimum=self.minimum, maximum=self.maximum)
        elif self.kind in ("decimal", "amount"):
            low = None if self.minimum is None else Decimal(self.minimum)
            high = None if self.maximum is None else Decimal(self.maximum)
            f.decimal(self.name, required=self.required, minimum=low, maximum=high)
        elif self.kind == "date":
            f.when(self.name, required=self.required)
        elif self.kind == "choice" and self.boolean:
            f.boolean(self.name, required=self.required)
        elif self.kind == "choice":
            f.choice(self.name, tuple(value for value, _ in self.choices), required=self.required)
        else:  # text, store, textarea
            f.text(self.name, required=self.required, max_length=self.max_length)

    def builder_input(self) -> dict[str, Any]:
        """The builder's input for this field (static/web/builder.js reads it)."""
        spec: dict[str, Any] = {"name": self.name, "label": self.label, "kind": self.kind}
        if self.minimum is not None:
            spec["min"] = self.minimum
        if self.maximum is not None:
            spec["max"] = self.maximum
        if self.choices:
            spec["choices"] = [list(choice) for choice in self.choices]
        if self.boolean:
            spec["boolean"] = True
        return {**spec, **dict(self.ui)}

    def describe(self) -> str:
        """The README's words for the field: its name, its values or bounds, and its note."""
        text = f"`{self.name}`"
        if self.choices:
            text += " " + "\\|".join(value for value, _ in self.choices)
        elif self.minimum is not None and self.maximum is not None:
            text += f" {self.minimum}–{self.maximum}"  # noqa: RUF001 (an en dash, as the README writes ranges)
        if self.note:
            text += f" {self.note}"
        return text


class Criterion:
    """A criterion type declares itself once: what it is called, where the builder shows it, its fields with their
    bounds, whether its answer moves with the clock, its period fields, whether it is a customer list, and what it
    means (the README's table). Validation, the builder's inputs, freshness and that table derive from this."""

    type: ClassVar[str]
    label: ClassVar[str]
    group: ClassVar[str]
    fields: ClassVar[tuple[Field, ...]]
    one_of: ClassVar[tuple[str, ...]] = ()  # at least one of these fields must be given
    ranges: ClassVar[tuple[tuple[str, str], ...]] = ()  # (low, high) pairs that must be in order
    clock: ClassVar[bool] = False  # a day boundary can change who matches (relative windows, ages, anniversaries)
    period: ClassVar[tuple[str, str] | None] = None  # counts purchases in this fixed period only
    is_list: ClassVar[bool] = False  # a customer list: a new customer (a first receipt) can join it
    ours: ClassVar[bool] = False  # not in Open Loyalty
    # keys besides the fields that a stored or returned criterion carries (a client may send them back as read)
    stored: ClassVar[tuple[str, ...]] = ()
    matches: ClassVar[str]  # the README: a customer matches when …
    example: ClassVar[dict[str, Any]]  # a valid criterion (without its type), shown in the README
    counts: ClassVar[str] = ""  # the builder: which amount and which receipts count (default: by group and fields)

    def what_counts(self) -> str:
        """The builder's plain words for which receipts, and which amount, this criterion reads."""
        if self.counts or self.type in COUNTS_BY_TYPE:
            return self.counts or COUNTS_BY_TYPE[self.type]
        if self.group == PROFILE:
            return "Reads the customer's profile, as their latest receipts describe it."
        if any(declared.kind == "amount" for declared in self.fields):
            return SPEND_COUNTS
        if self.group == WHAT_AND_WHERE:
            return LINES_COUNT
        return PURCHASES_COUNT

    def example_words(self) -> str:
        """The declared example in the builder's words: "At least 5", "Stores S001, S007"."""
        words = []
        for declared in self.fields:
            value = self.example.get(declared.name)
            if value is None or declared.kind == "textarea":
                continue
            if isinstance(value, list):
                value = ", ".join(
                    " ".join(str(v) for v in item.values()) if isinstance(item, dict) else str(item) for item in value
                )
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            words.append(f"{declared.label} {value}")
        return "; ".join(words)

    def validate(self, f: Fields) -> None:
        if self.one_of:
            f.at_least_one(*self.one_of)
        for declared in self.fields:
            declared.validate(f)
        for low, high in self.ranges:
            f.ordered(low, high)
        self.check(f)

    def known(self) -> frozenset[str]:
        """Every key a criterion of this type may carry: its ids, its declared fields and what the API adds."""
        return frozenset(("type", "criterionId", *(declared.name for declared in self.fields), *self.stored))

    def check(self, f: Fields) -> None:
        """Rules across fields beyond order (none by default)."""

    def q(self, v: dict, ctx: Context) -> Q:
        raise NotImplementedError


def amounts(*, notes: str = "") -> tuple[Field, ...]:
    return (
        Field("fromAmount", "From amount", "amount", required=False, note=notes),
        Field("toAmount", "To amount", "amount", required=False),
    )


def dates(*, required: bool = True, optional_labels: bool = False, names: tuple[str, str] = ("fromDate", "toDate")):
    suffix = " (optional)" if optional_labels else ""
    return (
        Field(names[0], f"From date{suffix}", "date", required=required),
        Field(names[1], f"To date{suffix}", "date", required=required),
    )
