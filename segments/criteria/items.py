"""What and where: criteria over the item facts (items, groups, labels, makers, stores)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q

from receipts.readmodels import queries as receipts
from segments.criteria.base import NEVER, Context, Fields
from segments.criteria.declaration import WHAT_AND_WHERE, Criterion, Field, dates


def _bought(ctx: Context, codes: list[int]) -> Q:
    """Ever bought one of these codes: read from the codes' kept buyers, one row per customer (the facts have one
    per purchase: 1.3M for the most popular group at 5M receipts, against its 180k buyers)."""
    if not codes:
        return NEVER
    codes = sorted(set(codes))
    if ctx.buyers(codes):
        buyers = receipts.code_buyers_for_account(account=ctx.account).filter(code__in=codes)
        return Q(id__in=buyers.values("customer"))
    # inside a transaction that could not build them: the same customers, from the facts
    facts = receipts.item_facts_for_account(account=ctx.account).filter(code__in=codes)
    return Q(id__in=facts.values("customer"))


class BoughtThroughChannel(Criterion):
    type = "bought_through_channel"
    label = "Bought in stores"
    group = WHAT_AND_WHERE
    fields = (Field("channelIds", "Stores", "stores", note="(store ids)", ui=(("wide", True),)),)
    matches = "at least one purchase in one of these stores"
    example = {"channelIds": ["S001", "S007"]}

    def q(self, v: dict, ctx: Context) -> Q:
        return _bought(ctx, receipts.codes_lookup(account=ctx.account, kind="store", values=v["channelIds"]))


class TransactionPercentInChannel(Criterion):
    """At least `percent` % of the customer's purchases were made in the store `channelId`."""

    type = "transaction_percent_in_channel"
    label = "Share of purchases in a store"
    group = WHAT_AND_WHERE
    fields = (Field("channelId", "Store", "store"), Field("percent", "At least %", "decimal", minimum=0, maximum=100))
    matches = "purchases in that store \u00d7 100 \u2265 percent \u00d7 all purchases (and they have purchases)"
    example = {"channelId": "S001", "percent": 75}

    def q(self, v: dict, ctx: Context) -> Q:
        percent = v["percent"]
        if percent == 0:
            return Q(purchases__gt=0)
        codes = receipts.codes_lookup(account=ctx.account, kind="store", values=[v["channelId"]])
        if not codes:
            return NEVER
        # n * 100 >= percent * purchases: exact, no division
        at_store = (
            receipts.item_facts_for_account(account=ctx.account)
            .filter(code__in=codes, customer__purchases__gt=0)
            .values("customer", "customer__purchases")
            .annotate(n100=Count("*") * 100)
            .filter(n100__gte=ExpressionWrapper(F("customer__purchases") * percent, output_field=DecimalField()))
            .values("customer")
        )
        return Q(id__in=at_store)


class BoughtSkus(Criterion):
    type = "bought_skus"
    label = "Bought items (SKUs)"
    group = WHAT_AND_WHERE
    fields = (Field("skuIds", "Items", "tokens", note="(item ids)", ui=(("suggest", "item"), ("wide", True))),)
    matches = "a purchase with a line of one of these items"
    example = {"skuIds": ["I000042"]}

    def q(self, v: dict, ctx: Context) -> Q:
        return _bought(ctx, receipts.codes_lookup(account=ctx.account, kind="item", values=v["skuIds"]))


class BoughtLabels(Criterion):
    """A line whose dimension[key] equals value, or key `group` and the line is in that group (case-insensitive)."""

    type = "bought_labels"
    label = "Bought items with labels"
    group = WHAT_AND_WHERE
    fields = (
        Field(
            "labels",
            "Labels (key=value)",
            "key_values",
            note="[{`key`, `value`}]",
            ui=(("suggest", "label"), ("wide", True)),
        ),
    )
    matches = (
        "a purchased line whose `dimension[key]` equals value, or key `group` and the line is in that group;"
        " case-insensitive"
    )
    example = {"labels": [{"key": "color", "value": "red"}, {"key": "group", "value": "G0012"}]}

    def q(self, v: dict, ctx: Context) -> Q:
        labels = [
            f"{label['key'].lower()}={label['value'].lower()}"
            for label in v["labels"]
            if label["key"].lower() != "group"
        ]
        groups = [label["value"] for label in v["labels"] if label["key"].lower() == "group"]
        codes = receipts.codes_lookup(account=ctx.account, kind="label", values=labels) if labels else []
        if groups:
            codes += receipts.codes_lookup(account=ctx.account, kind="group", values=groups, case_insensitive=True)
        return _bought(ctx, codes)


class BoughtMakers(Criterion):
    type = "bought_makers"
    label = "Bought brands"
    group = WHAT_AND_WHERE
    fields = (Field("makers", "Brands", "tokens", lower=True, ui=(("suggest", "maker"), ("wide", True))),)
    matches = (
        "a purchased line whose `extra_info` has key `maker` or `brand` with one of these values; case-insensitive"
    )
    example = {"makers": ["Tine"]}

    def q(self, v: dict, ctx: Context) -> Q:
        return _bought(ctx, receipts.codes_lookup(account=ctx.account, kind="maker", values=v["makers"]))


class BoughtItems(Criterion):
    """Our own: Dintero's receipt filter (as in customer_segment) with a minimum number of matching purchases."""

    type = "bought_items"
    label = "Bought items or groups"
    group = WHAT_AND_WHERE
    fields = (
        Field(
            "items", "Items and groups", "item_objects", required=False, note="[{`id`, `group`}]", ui=(("wide", True),)
        ),
        Field("storeIds", "In stores (optional)", "stores", required=False, ui=(("optional", True),)),
        *dates(required=False, optional_labels=True, names=("purchaseFrom", "purchaseTo")),
        Field(
            "minPurchases",
            "At least N purchases",
            "int",
            required=False,
            minimum=1,
            maximum=100_000,
            note="(default 1)",
        ),
        Field(
            "anyPurchase",
            "Or: any purchase",
            "choice",
            required=False,
            boolean=True,
            choices=(("false", "No: the items and groups above"), ("true", "Yes: every purchase counts")),
            note="(true instead of `items`: every purchase counts)",
            ui=(("optional", True),),
        ),
    )
    ranges = (("purchaseFrom", "purchaseTo"),)
    ours = True
    matches = (
        "at least `minPurchases` purchases match Dintero's receipt filter (below); `items` or `anyPurchase` is needed"
    )
    example = {"items": [{"group": "G0003"}], "minPurchases": 3}

    def check(self, f: Fields) -> None:
        # an empty filter once counted every buyer as having "bought" something: saying so must be deliberate
        items, any_purchase = f.raw.get("items"), f.raw.get("anyPurchase")
        if items is None and any_purchase is not True:
            f.fail("items", "Choose at least one item or group, or “any purchase”.", "required")
        elif items and any_purchase is True:
            f.fail("anyPurchase", "Choose items and groups or “any purchase”, not both.")

    def q(self, v: dict, ctx: Context) -> Q:
        start, end = ctx.period(v.get("purchaseFrom"), v.get("purchaseTo"))
        items = [receipts.ItemFilter(id=entry.get("id"), group=entry.get("group")) for entry in v.get("items") or []]
        per_customer = receipts.matching_receipts_per_customer(
            account=ctx.account,
            purchase_from=start,
            purchase_to=None if end is None else end - timedelta(microseconds=1),
            store_ids=v.get("storeIds"),
            items=items or None,
        )
        minimum = v.get("minPurchases") or 1
        if minimum > 1:
            per_customer = per_customer.filter(purchases__gte=minimum)
        return Q(id__in=per_customer.values("customer"))
