"""The basket tester: build a receipt, see what `available_for_receipt` gives it and why the other candidates did
not apply. A GET form: asking records nothing, so a result can be bookmarked or sent to a colleague."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from discounts.selectors.till import receipt_discounts_available
from loyalty.web.access import account_view, page
from loyalty.web.formatting import to_minor
from loyalty.web.forms import AmountField
from loyalty.web.why import condition_words
from receipts import selectors as receipts

ROWS = 6
STATUS_WORDS = {"applied": "Applied", "not_applicable": "Not applicable", "overshadowed": "Overshadowed"}


class BasketForm(forms.Form):
    customer_id = forms.CharField(required=False, max_length=255, label="Customer id", strip=True,
                                  help_text="Empty: a purchase without a customer (rules given to “/”).")  # fmt: skip
    store_id = forms.CharField(max_length=255, label="Store id", widget=forms.TextInput(attrs={"list": "basket-stores"}),
                               help_text="A store of your purchases, or any id the till would send.")  # fmt: skip
    mcc = forms.RegexField(regex=r"^\d{4}$", required=False, max_length=4, label="Store MCC")
    purchase_at = forms.DateTimeField(
        label="Purchase time", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    discount_code = forms.CharField(required=False, max_length=255, label="Discount code")


class ItemForm(forms.Form):
    item_id = forms.CharField(required=False, max_length=255, label="Item id")
    groups = forms.CharField(required=False, max_length=1000, label="Groups", help_text="Comma-separated group ids")
    quantity = forms.DecimalField(required=False, min_value=0.001, max_value=100000, decimal_places=3, label="Quantity")
    amount = AmountField(label="Amount")
    eligible = forms.BooleanField(required=False, initial=True, label="Eligible for discount")


ItemFormSet = forms.formset_factory(ItemForm, extra=ROWS, max_num=ROWS, absolute_max=ROWS)


def _item(form: ItemForm, line_id: int, currency: str) -> dict[str, Any] | None:
    data = form.cleaned_data
    if not data.get("item_id") and not data.get("amount"):
        return None
    amount = to_minor(data.get("amount") or "", currency)
    if amount is None or amount < 0:
        form.add_error("amount", "Enter an amount, e.g. 149.90.")
        return None
    groups = [g.strip() for g in (data.get("groups") or "").split(",") if g.strip()]
    quantity = data.get("quantity") or 1
    return {
        "id": data.get("item_id") or f"item-{line_id}",
        "line_id": line_id,
        "groups": [{"id": g} for g in groups],
        "quantity": int(quantity) if quantity == int(quantity) else float(quantity),
        "gross_amount": amount,
        "eligible_for_discount": bool(data.get("eligible")),
    }


def _receipt(form: BasketForm, items: list[dict[str, Any]], account) -> dict[str, Any]:
    data = form.cleaned_data
    at: datetime = data["purchase_at"]
    store: dict[str, Any] = {"id": data["store_id"]}
    if data.get("mcc"):
        store["mcc"] = data["mcc"]
    receipt: dict[str, Any] = {
        "store": store,
        "receipt_id": "basket-tester",
        "purchase_at": at.astimezone(account.tz).isoformat(),
        "currency": account.currency,
        "gross_amount": sum(item["gross_amount"] for item in items),
        "items": items,
    }
    if data.get("customer_id"):
        receipt["customer_id"] = data["customer_id"]
    if data.get("discount_code"):
        receipt["discount_code"] = [data["discount_code"]]
    return receipt


def _result(receipt: dict[str, Any], request: HttpRequest) -> dict[str, Any]:
    outcome = receipt_discounts_available(account=request.account, receipt=receipt)
    answer = outcome.receipt
    explain = [
        {**entry, "status_words": STATUS_WORDS[entry["status"]], "why": condition_words(entry.get("condition"))}
        for entry in outcome.explain()
    ]
    items = [
        {**item, "discount": sum(line["amount"] for line in item.get("discount_lines", []))} for item in answer["items"]
    ]
    for item in items:
        item["to_pay"] = item["gross_amount"] - item["discount"]
    discounts = answer["discounts"]
    discount = sum(ref["amount"] for d in discounts for ref in d["refs"])
    return {
        "answer": answer,
        "answer_items": items,
        "discounts": discounts,
        "explain": explain,
        "others": [entry for entry in explain if entry["status"] != "applied"],
        "total": receipt["gross_amount"],
        "discount_total": discount,
        "to_pay": receipt["gross_amount"] - discount,
        "bonus_total": sum(ref["bonus"] for d in discounts for ref in d["refs"]),
    }


@account_view
def basket_tester(request: HttpRequest) -> HttpResponse:
    asked = "store_id" in request.GET
    now = timezone.now().astimezone(request.account.tz).replace(second=0, microsecond=0, tzinfo=None)
    stores = receipts.stores_for_account(account=request.account)
    # the first store the account's purchases know: a demo's "S1" would match no store rule
    first = stores[0][0] if stores else ""
    form = BasketForm(request.GET if asked else None, initial={"purchase_at": now, "store_id": first})
    items = ItemFormSet(request.GET if asked else None, prefix="item")
    context: dict[str, Any] = {"form": form, "items": items, "nav": "rules", "stores": stores}
    if asked and form.is_valid() and items.is_valid():
        lines = [_item(f, n + 1, request.account.currency) for n, f in enumerate(items.forms)]
        built = [line for line in lines if line is not None]
        if not any(f.errors for f in items.forms):
            if built:
                context.update(_result(_receipt(form, built, request.account), request))
            else:
                context["no_items"] = True
    status = 400 if asked and (form.errors or any(f.errors for f in items.forms)) else 200
    return page(request, "web/basket.html", context, status=status)
