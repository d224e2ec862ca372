"""Forms of the pages: they only check and convert input; the selectors and services do the rest."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from discounts.documents import strip_server_fields
from loyalty.web.formatting import exponent, to_minor
from receipts.selectors import ReceiptFilters


class AmountField(forms.CharField):
    """An amount in the account currency's major units, converted to minor units with the form's currency."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 20)
        super().__init__(*args, **kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})


def store_label(store_id: str, name: str | None) -> str:
    """A store as people know it, with the id the tills use: "Oslo City (S001)"."""
    return f"{name} ({store_id})" if name and name != store_id else store_id


class ReceiptFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=255, label="Search")
    store = forms.MultipleChoiceField(required=False, label="Store")
    from_ = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(required=False, label="Status")
    currency = forms.RegexField(regex=r"^[A-Za-z]{3}$", required=False, max_length=3, label="Currency")
    customer = forms.ChoiceField(
        required=False,
        label="Customer",
        choices=[("", "Any"), ("with", "With customer"), ("without", "Without customer")],
    )
    min = AmountField(label="Min gross")
    max = AmountField(label="Max gross")

    def __init__(self, data, *, account, stores: list[tuple[str, str]], statuses: list[str]):
        super().__init__(data)
        self.account = account
        self.fields["store"].choices = [(sid, store_label(sid, name)) for sid, name in stores]
        self.fields["status"].choices = [("", "Any"), *[(s, s) for s in statuses]]

    def add_prefix(self, field_name):
        # the URL parameter is `from`, a Python keyword
        return "from" if field_name == "from_" else super().add_prefix(field_name)

    def _amount(self, name: str) -> int | None:
        text = self.cleaned_data.get(name)
        if not text:
            return None
        value = to_minor(text, self.account.currency)
        if value is None:
            self.add_error(name, "Enter an amount, e.g. 149.90.")
        return value

    def clean(self):
        cleaned = super().clean()
        cleaned["min_minor"] = self._amount("min")
        cleaned["max_minor"] = self._amount("max")
        start, end = cleaned.get("from_"), cleaned.get("to")
        if start and end and end < start:
            self.add_error("to", "The end date is before the start date.")
        return cleaned

    def filters(self, *, search_personal_data: bool = True) -> ReceiptFilters:
        data = self.cleaned_data
        tz = self.account.tz
        start, end = data.get("from_"), data.get("to")
        customer = data.get("customer")
        return ReceiptFilters(
            store_ids=data.get("store") or None,
            purchase_from=datetime.combine(start, time.min, tzinfo=tz) if start else None,
            # "to" is inclusive for people: up to midnight after that day
            purchase_to=datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz) if end else None,
            status=data.get("status") or None,
            currency=(data.get("currency") or "").upper() or None,
            with_customer={"with": True, "without": False}.get(customer),
            min_gross=data.get("min_minor"),
            max_gross=data.get("max_minor"),
            search=data.get("q") or None,
            search_personal_data=search_personal_data,
        )


REWARD_TYPES = [
    ("discount_amount", "Amount off"),
    ("discount_percent", "Percent off"),
    ("discount_item_new_price", "New item price"),
    ("discount_item_quantity", "Free items"),
    ("discount_item_percent", "Percent off the cheapest item"),
    ("discount_mix_new_price", "New price for a mix"),
    ("discount_debit", "Debit amount"),
]
PERCENT_REWARDS = {"discount_percent", "discount_item_percent"}
AMOUNT_REWARDS = {"discount_amount", "discount_item_new_price", "discount_mix_new_price", "discount_debit"}


def _period(start, end, tz) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


# the discount rule document's paths (as its validation names them) → the rule and push forms' fields
RULE_FIELDS = {
    "reward.type": "reward_type",
    "reward.value": "reward_value",
    "requirement.purchase_from": "purchase_from",
    "requirement.purchase_to": "purchase_to",
    "requirement.gross_amount": "min_gross",
    "requirement.store_ids": "store_ids",
    "limitation.discount_reward_usage": "reward_usage",
}


class RuleFieldsMixin:
    """Name, reward and period of a discount rule: shared by the rule form and the push form's inline rule."""

    def _rule_fields(self, *, required: bool) -> None:
        self.fields["name"] = forms.CharField(max_length=200, required=required, label="Rule name")
        self.fields["reward_type"] = forms.ChoiceField(choices=REWARD_TYPES, label="Reward", required=required)
        self.fields["reward_value"] = forms.CharField(
            max_length=20,
            required=required,
            label="Reward value",
            help_text=f"Amounts in {self.account.currency}, percentages as numbers, free items as a count.",
        )
        self.fields["purchase_from"] = forms.DateField(
            required=required, label="Valid from", widget=forms.DateInput(attrs={"type": "date"})
        )
        self.fields["purchase_to"] = forms.DateField(
            required=required, label="Valid to", widget=forms.DateInput(attrs={"type": "date"})
        )

    def _clean_rule(self, cleaned: dict) -> None:
        kind, text = cleaned.get("reward_type"), (cleaned.get("reward_value") or "").strip()
        if kind and text:
            if kind in AMOUNT_REWARDS:
                value = to_minor(text, self.account.currency)
            else:
                try:
                    value = float(text.replace(",", "."))
                    value = int(value) if value.is_integer() else value
                except ValueError:
                    value = None
            if value is None or value < 1:
                self.add_error("reward_value", "Enter a positive number.")
            elif kind in PERCENT_REWARDS and value > 100:
                self.add_error("reward_value", "A percentage can be at most 100 (100 % makes the purchase free).")
            cleaned["reward_number"] = value
        start, end = cleaned.get("purchase_from"), cleaned.get("purchase_to")
        if start and end and end < start:
            self.add_error("purchase_to", "The rule must end on or after the day it starts.")

    def _document(self) -> dict:
        data = self.cleaned_data
        start, end = _period(data["purchase_from"], data["purchase_to"], self.account.tz)
        return {
            "name": data["name"],
            "requirement": {"purchase_from": start.isoformat(), "purchase_to": end.isoformat()},
            "reward": {"type": data["reward_type"], "value": data["reward_number"]},
        }


class PlainSelect(forms.Select):
    """A select whose options are written here rather than each through the template engine: Django's ~50 µs per
    option made an account's 2,000 discount rules cost the segment page ~100 ms. Same markup, no option groups."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (option["value"], " selected" if option["selected"] else "", option["label"])
                for _group, group_options, _index in widget["optgroups"]
                for option in group_options
            ),
        )
        return format_html('<select name="{}"{}>{}</select>', widget["name"], flatatt(widget["attrs"]), options)


class PushForm(RuleFieldsMixin, forms.Form):
    NEW = "new"

    rule = forms.ChoiceField(label="Discount rule", widget=PlainSelect)
    mode = forms.ChoiceField(
        choices=[("sync", "Keep in sync after every recalculation"), ("once", "Once, with the current members")],
        initial="sync",
        widget=forms.RadioSelect,
        label="How",
    )
    remove_departed = forms.BooleanField(
        required=False, initial=True, label="Take the rule back from customers who leave the segment"
    )
    holdout_percent = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=50,
        initial=0,
        label="Holdout (%)",
        error_messages={
            "min_value": "Hold out between 0 and 50 %% of the members.",  # %%: Django %-formats them
            "max_value": "Hold out between 0 and 50 %% of the members.",
            "invalid": "Enter a whole percentage, e.g. 10.",
        },
        help_text=(
            "Keep this share of the members (0-50 %, picked at random, always the same people) without the rule, "
            "so the segment page can show whether the discount made customers buy more. 10 % is usual; kept in "
            "sync only, and fixed once the rule follows the segment."
        ),
    )

    def __init__(self, *args, account, rules, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        self.rules = {str(rule.pk): rule for rule in rules}
        self.fields["rule"].choices = [
            (self.NEW, "Create a new rule…"),
            *[(key, rule.name or key) for key, rule in self.rules.items()],
        ]
        self._rule_fields(required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("rule") == self.NEW:
            for name in ("name", "reward_type", "reward_value", "purchase_from", "purchase_to"):
                if not cleaned.get(name):
                    self.add_error(name, "Required for a new rule.")
            self._clean_rule(cleaned)
        return cleaned

    def chosen_rule(self):
        return self.rules[self.cleaned_data["rule"]]

    def rule_document(self) -> dict:
        return self._document()


class RuleForm(RuleFieldsMixin, forms.Form):
    active = forms.BooleanField(required=False, initial=True, label="Active")
    private = forms.BooleanField(required=False, label="Private (not in the public rules list)")
    receipt_text = forms.CharField(required=False, max_length=200, label="Text on the receipt")
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    min_gross = AmountField(label="Minimum purchase (gross)")
    item_ids = forms.CharField(required=False, max_length=2000, label="Items (ids, comma separated)")
    group_ids = forms.CharField(required=False, max_length=2000, label="Item groups (ids, comma separated)")
    store_ids = forms.MultipleChoiceField(
        required=False, label="Only in stores", help_text="None chosen: every store. Ctrl/⌘-click to choose several."
    )
    reward_usage = forms.IntegerField(
        required=False,
        min_value=1,
        label="Rewards per purchase",
        help_text="When several items of a purchase match, at most this many get the reward. Empty: no limit.",
    )

    # what Dintero's rules never change in an update (see discounts.documents.update_problems)
    FIXED = ("purchase_from", "reward_type", "reward_value")
    FIXED_HELP = "Fixed once the rule exists (see above)."

    def __init__(self, *args, account, stores, fixed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        self._rule_fields(required=True)
        self.fields["store_ids"].choices = [(sid, store_label(sid, name)) for sid, name in stores]
        self.fields["min_gross"].help_text = f"In {account.currency}, with tax. Empty: no minimum."
        order = ["name", "active", "private", "purchase_from", "purchase_to", "reward_type", "reward_value"]
        self.order_fields(order)
        self.fixed = fixed
        for name in self.FIXED if fixed else ():
            self.fields[name].disabled = True
            self.fields[name].help_text = self.FIXED_HELP

    def clean(self):
        cleaned = super().clean()
        cleaned["min_gross_minor"] = None
        if cleaned.get("min_gross"):
            cleaned["min_gross_minor"] = to_minor(cleaned["min_gross"], self.account.currency)
            if cleaned["min_gross_minor"] is None:
                self.add_error("min_gross", "Enter an amount, e.g. 500.")
            elif cleaned["min_gross_minor"] < 0:
                self.add_error("min_gross", "Enter an amount of 0 or more (leave it empty for no minimum).")
        self._clean_rule(cleaned)
        return cleaned

    @staticmethod
    def _ids(text: str) -> list[str]:
        return [part.strip() for part in (text or "").split(",") if part.strip()]

    def document(self) -> dict:
        data = self.cleaned_data
        document = self._document()
        if self.fixed:
            # an update leaves them as they are (the fields only show them)
            del document["reward"], document["requirement"]["purchase_from"]
        document.update(
            active=data["active"],
            private=data["private"],
            receipt_text=data["receipt_text"],
            description=data["description"],
        )
        requirement = document["requirement"]
        if data["min_gross_minor"]:
            requirement["gross_amount"] = data["min_gross_minor"]
        items = [{"id": i} for i in self._ids(data["item_ids"])] + [
            {"group_id": g} for g in self._ids(data["group_ids"])
        ]
        if items:
            requirement["item"] = {"items": items}
        if data["store_ids"]:
            requirement["store_ids"] = data["store_ids"]
        if data["reward_usage"]:
            document["limitation"] = {"discount_reward_usage": data["reward_usage"]}
        return document

    def limitation_from(self, source: dict) -> dict:
        """The rule's limitation with the form's one field (rewards per purchase) set or, left empty, taken out: a
        PUT replaces `limitation` whole, and the form must not drop the limits it does not show."""
        limitation = {k: v for k, v in (source.get("limitation") or {}).items() if k != "discount_reward_usage"}
        if self.cleaned_data["reward_usage"]:
            limitation["discount_reward_usage"] = self.cleaned_data["reward_usage"]
        return limitation

    def changes_from(self, source: dict) -> dict:
        """The PUT body an edit sends: the form's values, the limitation merged with the rule's own."""
        changes = self.document()
        if source.get("limitation") or "limitation" in changes:
            changes["limitation"] = self.limitation_from(source)
        return changes

    @classmethod
    def initial_from(cls, rule, account) -> dict:
        from loyalty.web.formatting import major

        document = rule.document
        requirement = document.get("requirement", {})
        reward = document.get("reward", {})
        tz = account.tz
        value = reward.get("value")
        if reward.get("type") in AMOUNT_REWARDS and value is not None:
            value = major(value / 10 ** exponent(account.currency), "").strip().replace("\u202f", "")
        items = requirement.get("item", {}).get("items", []) if isinstance(requirement.get("item"), dict) else []
        return {
            "name": document.get("name", ""),
            "active": rule.active,
            "private": rule.private,
            "receipt_text": document.get("receipt_text", ""),
            "description": document.get("description", ""),
            "purchase_from": rule.purchase_from.astimezone(tz).date(),
            "purchase_to": (rule.purchase_to.astimezone(tz) - timedelta(microseconds=1)).date(),
            "reward_type": reward.get("type"),
            "reward_value": value,
            "min_gross": (
                major(requirement["gross_amount"] / 10 ** exponent(account.currency), "").strip().replace("\u202f", "")
                if requirement.get("gross_amount")
                else ""
            ),
            "item_ids": ", ".join(i["id"] for i in items if isinstance(i, dict) and i.get("id")),
            "group_ids": ", ".join(i["group_id"] for i in items if isinstance(i, dict) and i.get("group_id")),
            "store_ids": requirement.get("store_ids", []),
            "reward_usage": (document.get("limitation") or {}).get("discount_reward_usage"),
        }


class RuleDuplicateForm(RuleForm):
    """A new rule from an old one's values, and what happens to the old one."""

    deactivate_source = forms.BooleanField(required=False, initial=True, label="Deactivate the old rule")
    move_links = forms.BooleanField(
        required=False,
        initial=True,
        label="Move the old rule's segment links to the new rule (its segments' members get the new rule)",
    )

    # what the form shows; everything else of the old rule (its campaign, usage limits, hours, …) carries over
    SHOWN_REQUIREMENT = ("purchase_from", "purchase_to", "gross_amount", "item", "store_ids")

    def document_from(self, source: dict) -> dict:
        """The new rule: the old rule's document with the form's values in place of what the form shows."""
        shown = self.document()
        document = {**strip_server_fields(source), **shown}
        kept = {k: v for k, v in (source.get("requirement") or {}).items() if k not in self.SHOWN_REQUIREMENT}
        document["requirement"] = {**kept, **shown["requirement"]}
        document.pop("limitation", None)
        if limitation := self.limitation_from(source):
            document["limitation"] = limitation
        return document


class SegmentListForm(forms.Form):
    """The segments list's search, state filter and order (query parameters)."""

    q = forms.CharField(required=False, max_length=255, label="Search")
    state = forms.ChoiceField(
        required=False,
        label="State",
        choices=[("", "Any"), ("active", "Active"), ("inactive", "Inactive"), ("paused", "Paused")],
    )
    sort = forms.ChoiceField(
        required=False,
        label="Sort by",
        choices=[
            ("name", "Name"),
            ("largest", "Size, largest first"),
            ("smallest", "Size, smallest first"),
            ("recent", "Last calculated, newest first"),
            ("oldest", "Last calculated, oldest first"),
        ],
    )
