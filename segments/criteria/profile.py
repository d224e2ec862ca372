"""Who: criteria over the customer profile (the customer object of their latest receipt) and customer lists."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any, ClassVar

from django.db.models import BooleanField, Q

from loyalty.core.sql import raw_expression, sql
from segments.criteria.base import NEVER, Context, Fields
from segments.criteria.declaration import PROFILE, Criterion, Field
from segments.sql import customer_column

# a customer's metadata object (an empty object when the profile has none, or something else there)
_METADATA = sql.SQL(
    "CASE WHEN jsonb_typeof({profile} -> 'metadata') = 'object' THEN {profile} -> 'metadata' ELSE '{{}}'::jsonb END"
)


def _condition(template: str, params: list[Any], **columns: str) -> Q:
    """A condition on customers' columns (named by field), with the metadata object as {metadata}."""
    names = {name: customer_column(field) for name, field in columns.items()}
    if "{metadata}" in template:
        names["metadata"] = _METADATA.format(profile=customer_column("profile"))
    statement = sql.SQL(template).format(**names)
    return Q(raw_expression(statement, params, output_field=BooleanField()))


def _month_days(ctx: Context, days: int) -> list[str]:
    """MM-DD of today and the next days-1 days; Feb 29 birthdays are celebrated on Feb 28 in other years."""
    out = set()
    for offset in range(days):
        day = ctx.today + timedelta(days=offset)
        out.add(day.strftime("%m-%d"))
        if day.month == 2 and day.day == 28 and not _leap(day.year):
            out.add("02-29")
    return sorted(out)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class Anniversary(Criterion):
    type = "anniversary"
    label = "Birthday or anniversary within N days"
    group = PROFILE
    fields = (
        Field(
            "anniversaryType",
            "Anniversary",
            "choice",
            choices=(("birthday", "Birthday"), ("registration", "First purchase")),
        ),
        Field("days", "Within days", "int", minimum=1, maximum=366),
    )
    clock = True
    matches = (
        "the anniversary falls within the next `days` days, today included (1 = today); Feb 29 is celebrated on"
        " Feb 28 in other years"
    )
    example = {"anniversaryType": "birthday", "days": 7}

    def q(self, v: dict, ctx: Context) -> Q:
        month_days = _month_days(ctx, v["days"])
        if v["anniversaryType"] == "birthday":
            born = _condition("to_char({born}, 'MM-DD') = ANY(%s)", [month_days], born="date_of_birth")
            return Q(date_of_birth__isnull=False) & born
        first = _condition(
            "to_char(({first} AT TIME ZONE %s)::date, 'MM-DD') = ANY(%s)",
            [ctx.account.timezone, month_days],
            first="first_purchase_at",
        )
        return Q(first_purchase_at__isnull=False) & first


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # Feb 29
        return day.replace(year=day.year - years, day=28)


class Age(Criterion):
    type = "age"
    label = "Age"
    group = PROFILE
    fields = (
        Field("min", "At least", "int", required=False, minimum=0, maximum=150, note="(years)"),
        Field("max", "At most", "int", required=False, minimum=0, maximum=150),
    )
    one_of = ("min", "max")
    ranges = (("min", "max"),)
    clock = True
    matches = "age today in the account's timezone in range"
    example = {"min": 18, "max": 30}

    def q(self, v: dict, ctx: Context) -> Q:
        q = Q(date_of_birth__isnull=False)
        if v.get("min") is not None:  # at least min years old today
            q &= Q(date_of_birth__lte=_years_before(ctx.today, v["min"]))
        if v.get("max") is not None:  # not yet max + 1
            q &= Q(date_of_birth__gt=_years_before(ctx.today, v["max"] + 1))
        return q


class Gender(Criterion):
    type = "gender"
    label = "Gender"
    group = PROFILE
    fields = (
        Field(
            "genders", "Genders", "tokens", lower=True, ui=(("options", ["female", "male", "other"]), ("wide", True))
        ),
    )
    matches = "the profile's gender; case-insensitive"
    example = {"genders": ["female"]}

    def q(self, v: dict, ctx: Context) -> Q:
        return Q(gender__in=v["genders"])


class _AddressField(Criterion):
    column = ""
    group = PROFILE
    matches = "one of the customer's addresses has it; case-insensitive"

    def q(self, v: dict, ctx: Context) -> Q:
        return Q(**{f"{self.column}__overlap": v[self.fields[0].name]})


class Country(_AddressField):
    type, label, column = "country", "Country", "countries"
    fields = (Field("countries", "Countries (codes, e.g. NO)", "tokens", lower=True, ui=(("wide", True),)),)
    example = {"countries": ["NO"]}


class City(_AddressField):
    type, label, column = "city", "City", "cities"
    fields = (Field("cities", "Cities", "tokens", lower=True, ui=(("wide", True),)),)
    example = {"cities": ["Oslo"]}


class Postal(_AddressField):
    type, label, column = "postal", "Postal code", "postal_codes"
    fields = (Field("postalCodes", "Postal codes", "tokens", lower=True, ui=(("wide", True),)),)
    example = {"postalCodes": ["0150"]}


class CustomerHasLabels(Criterion):
    """Keys of the customer's metadata, plus `status` (set when the customer has a status); case-insensitive."""

    type = "customer_has_labels"
    label = "Has labels"
    group = PROFILE
    fields = (Field("labels", "Label keys", "keys", note="[{`key`}]", ui=(("wide", True),)),)
    matches = "a key of the customer's `metadata`, or `status` when they have one; case-insensitive"
    example = {"labels": [{"key": "tier"}]}

    def q(self, v: dict, ctx: Context) -> Q:
        keys = sorted({label["key"].lower() for label in v["labels"]})
        q = _condition("EXISTS (SELECT 1 FROM jsonb_object_keys({metadata}) k WHERE lower(k) = ANY(%s))", [keys])
        if "status" in keys:
            q |= ~Q(status="")
        return q


class CustomerWithLabelsValues(Criterion):
    """metadata[key] equals value, or key `status` and the customer's status equals value; case-insensitive."""

    type = "customer_with_labels_values"
    label = "Has label values"
    group = PROFILE
    fields = (Field("labels", "Labels (key=value)", "key_values", note="[{`key`, `value`}]", ui=(("wide", True),)),)
    matches = "`metadata[key]` equals value, or key `status` and the status equals value; case-insensitive"
    example = {"labels": [{"key": "status", "value": "vip"}]}

    def q(self, v: dict, ctx: Context) -> Q:
        pairs = [(label["key"].lower(), label["value"].lower()) for label in v["labels"]]
        metadata = [p for p in pairs if p[0] != "status"]
        statuses = [value for key, value in pairs if key == "status"]
        q = NEVER
        if metadata:
            q |= _condition(
                "EXISTS (SELECT 1 FROM jsonb_each_text({metadata}) kv"
                " JOIN unnest(%s::text[], %s::text[]) AS want(k, v) ON lower(kv.key) = want.k AND lower(kv.value) = want.v)",
                [[k for k, _ in metadata], [value for _, value in metadata]],
            )
        if statuses:
            q |= _condition("lower({status}) = ANY(%s)", [statuses], status="status")
        return q


class MemberCustomFieldValue(Criterion):
    """metadata[key] (exact key) has exactly this value (as text)."""

    type = "member_custom_field_value"
    label = "Custom field value"
    group = PROFILE
    fields = (Field("key", "Field", "text"), Field("value", "Value", "text", max_length=1000))
    matches = "`metadata[key]` (exact key) is exactly value (numbers and booleans as JSON text)"
    example = {"key": "member_since", "value": "2019-04-01"}

    def q(self, v: dict, ctx: Context) -> Q:
        return _condition("({profile} -> 'metadata' ->> %s) = %s", [v["key"], v["value"]], profile="profile")


class MemberLoyaltyCardNumber(Criterion):
    """The customer's token values (customer.token.value on receipts)."""

    type = "member_loyalty_card_number"
    label = "Loyalty card numbers"
    group = PROFILE
    fields = (Field("cardNumbers", "Card numbers", "tokens", ui=(("wide", True),)),)
    matches = "the customer's token value (`customer.token.value`) is one of these"
    example = {"cardNumbers": ["9000000042"]}

    def q(self, v: dict, ctx: Context) -> Q:
        return Q(token_values__overlap=v["cardNumbers"])


class MarketingConsent(Criterion):
    type = "marketing_consent"
    label = "Marketing consent"
    group = PROFILE
    fields = (
        Field("channel", "Channel", "choice", choices=(("email", "E-mail"), ("sms", "SMS"))),
        Field("consent", "Consent", "choice", choices=(("true", "Given"), ("false", "Refused")), boolean=True),
    )
    ours = True
    matches = "consent true: they said yes; false: they did not say yes (no or unknown)"
    example = {"channel": "email", "consent": True}

    def q(self, v: dict, ctx: Context) -> Q:
        column = f"{v['channel']}_consent"
        # consent false = has not consented, which includes customers who never answered
        return Q(**{column: True}) if v["consent"] else ~Q(**{column: True})


MAX_LIST = 100_000


class CustomerList(Criterion):
    """Customer ids, emails or phone numbers, resolved to customers whenever the definition is compiled (every run
    and preview), so an entry that gets its first receipt later matches from the next run on."""

    type = "customer_list"
    label = "Customer list"
    group = PROFILE
    fields = (
        Field(
            "customers",
            "Customer ids, e-mails or phones",
            "tokens",
            max_items=MAX_LIST,
            note="(ids, emails or phones, ≤ 100,000)",
            ui=(("wide", True),),
        ),
    )
    is_list = True
    stored: ClassVar[tuple[str, ...]] = (
        "_customerPks",
        "matched",
        "unmatched",
    )  # the save's report (and a resolution older versions stored)
    matches = (
        "one of the listed customers; resolved at every run (each run reports `matched` and `unmatched`, and so do"
        " the save's response and the preview)"
    )
    example = {"customers": ["C0000001", "kari@example.com", "+4799999999"]}

    def entries(self, v: dict) -> list[str]:
        return v["customers"]

    def q(self, v: dict, ctx: Context) -> Q:
        ids, emails, phones = list_keys(self.entries(v))
        return _condition(
            "({cid} = ANY(%s) OR {email} = ANY(%s) OR {phone} = ANY(%s))",
            [ids, emails, [phone for phone in phones if phone]],  # customers without a phone have ""
            cid="customer_id",
            email="email",
            phone="phone",
        )


def list_keys(entries: list[str]) -> tuple[list[str], list[str], list[str]]:
    """What a list's entries are compared with: customer ids as given, e-mails lower-cased (as customers store
    them), and phone numbers as digits and + (an entry with fewer than 5 of those is no phone)."""
    return list(entries), [e.lower() for e in entries], [phone_key(e) for e in entries]


def phone_key(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit() or ch == "+")
    return digits if len(digits) >= 5 else ""


class CustomerCsvList(CustomerList):
    """The same from a CSV (first column; a header row naming id, customer_id, email or phone is skipped)."""

    type = "customer_csv_list"
    label = "Customer list (CSV)"
    fields = (
        Field(
            "csv",
            "CSV, customers in the first column",
            "textarea",
            max_length=10_000_000,
            note="(text; first column; a header named id/customer_id/email/phone is skipped)",
            ui=(("wide", True),),
        ),
    )
    stored: ClassVar[tuple[str, ...]] = ("customers", *CustomerList.stored)  # stored parsed: the CSV's first column
    matches = "the same, from a CSV"
    example = {"csv": "email\nkari@example.com\n"}

    def validate(self, f: Fields) -> None:
        raw = f.raw.get("csv")
        if raw is None and isinstance(f.raw.get("customers"), list):
            f.strings("customers", max_items=MAX_LIST)  # a stored criterion, already parsed
            return
        text = f.text("csv", max_length=10_000_000)
        if text is None:
            return
        rows = [row for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
        if rows and rows[0][0].strip().lower() in {"id", "customer_id", "customerid", "email", "phone", "customer"}:
            rows = rows[1:]
        values = [row[0].strip() for row in rows]
        if not values:
            f._err("csv", "The CSV has no customers in its first column.", "required")
        elif len(values) > MAX_LIST:
            f._err("csv", f"The CSV should have {MAX_LIST} rows or fewer.", "too_many")
        else:
            f.out["customers"] = values
            f.out.pop("csv", None)

    def entries(self, v: dict) -> list[str]:
        return v["customers"]
