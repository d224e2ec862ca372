"""What and where: criteria over the item facts (items, groups, labels, makers, stores)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q

from receipts.readmodels import queries as receipts
from segments.criteria.base import NEVER, Context, Fields


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


class BoughtThroughChannel:
    type = "bought_through_channel"

    def validate(self, f: Fields) -> None:
        f.strings("channelIds")

    def q(self, v: dict, ctx: Context) -> Q:
        return _bought(ctx, receipts.codes_lookup(account=ctx.account, kind="store", values=v["channelIds"]))


class TransactionPercentInChannel:
    """At least `percent` % of the customer's purchases were made in the store `channelId`."""

    type = "transaction_percent_in_channel"

    def validate(self, f: Fields) -> None:
        f.text("channelId")
        f.decimal("percent", minimum=0, maximum=100)

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


class BoughtSkus:
    type = "bought_skus"

    def validate(self, f: Fields) -> None:
        f.strings("skuIds")

    def q(self, v: dict, ctx: Context) -> Q:
        return _bought(ctx, receipts.codes_lookup(account=ctx.account, kind="item", values=v["skuIds"]))


class BoughtLabels:
    """A line whose dimension[key] equals value, or key `group` and the line is in that group (case-insensitive)."""

    type = "bought_labels"

    def validate(self, f: Fields) -> None:
        f.objects("labels", ("key", "value"), required_keys=("key", "value"))

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


class BoughtMakers:
    type = "bought_makers"

    def validate(self, f: Fields) -> None:
        f.strings("makers", lower=True)

    def q(self, v: dict, ctx: Context) -> Q:
        return _bought(ctx, receipts.codes_lookup(account=ctx.account, kind="maker", values=v["makers"]))


class BoughtItems:
    """Our own: Dintero's receipt filter (as in customer_segment) with a minimum number of matching purchases."""

    type = "bought_items"

    def validate(self, f: Fields) -> None:
        f.when("purchaseFrom", required=False)
        f.when("purchaseTo", required=False)
        f.ordered("purchaseFrom", "purchaseTo")
        if f.raw.get("storeIds") is not None:
            f.strings("storeIds")
        if f.raw.get("items") is not None:
            f.objects("items", ("id", "group"), required_keys=())
        f.integer("minPurchases", required=False, minimum=1, maximum=100_000)

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
