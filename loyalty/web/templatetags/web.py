from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django import template

from loyalty.web import formatting

register = template.Library()


@register.filter
def money(minor, currency):
    return formatting.money(minor, currency)


@register.filter
def money_rounded(minor, currency):
    """Minor units (a float: averages, estimates) in whole major units, as the impact panel states them."""
    return "—" if minor is None else formatting.whole_money(minor, currency)


@register.filter
def pct(share):
    """A share (0.123) as a percentage ("12.3 %")."""
    return "—" if share is None else f"{share * 100:.1f} %"


@register.filter
def pct_signed(share):
    return "—" if share is None else ("+" if share >= 0 else "\u2212") + f"{abs(share) * 100:.1f} %"


@register.filter
def p_value(p):
    """A p-value as people read one: "< 0.001" rather than 2.9e-06."""
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@register.filter
def major(value, currency):
    return formatting.major(value, currency)


@register.filter
def local(value, account):
    return formatting.local(value, account.tz)


@register.filter
def localdate(value, account):
    return formatting.local(value, account.tz, "%Y-%m-%d")


@register.filter
def duration(ms):
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60)} s"


@register.simple_tag(takes_context=True)
def query(context, **changes):
    """The current query string with some parameters replaced (None removes one): filters survive paging."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    encoded = urlencode(sorted((k, v) for k in params for v in params.getlist(k)))
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def criterion_line(context, criterion):
    """criterion_text with the page's personal-data rule and its stores named "name (id)" (`store_labels`)."""
    return criterion_text(criterion, context.get("can_see_personal_data", False), context.get("store_labels"))


@register.filter
def criterion_text(criterion, personal_data=True, stores=None):
    """A criterion as one readable line: its label and the values of its fields. A customer list names people by
    e-mail or phone as often as by id: without `personal_data` it is shown as its length. Stores are named with
    `stores` (id → label) when given."""
    from loyalty.web.criteria_ui import CATALOGUE

    spec = next((c for c in CATALOGUE if c["type"] == criterion.get("type")), None)
    if spec is None:
        return criterion.get("type", "")
    values = []
    for field in spec["fields"]:
        value = criterion.get(field["name"])
        # a list shown as its length: always for an uploaded CSV, and for typed-in ids without personal data
        hidden = (field["name"] == "csv" and value is None) or (
            field["name"] in ("csv", "customers") and not personal_data
        )
        if hidden and criterion.get("customers"):
            values.append(f"{len(criterion['customers'])} customers")
            continue
        if value is None:
            continue
        if stores and field["kind"] in ("store", "stores"):
            value = [stores.get(v, v) for v in value] if isinstance(value, list) else stores.get(value, value)
        if isinstance(value, list):
            value = ", ".join(
                "=".join(str(v) for v in item.values()) if isinstance(item, dict) else str(item) for item in value[:10]
            ) + (" …" if len(value) > 10 else "")
        values.append(f"{field['label'].lower()} {value}")
    return f"{spec['label']}: {'; '.join(values)}" if values else spec["label"]


@register.filter
def number(value):
    """A count with thin-space thousands, as amounts are shown."""
    if value is None:
        return "—"
    return f"{value:,}".replace(",", "\u202f")


# Why a calculation ran, as a merchant says it (the choices' labels are title-cased identifiers).
TRIGGER_WORDS = {
    "created": "segment created",
    "updated": "definition changed",
    "activated": "switched on",
    "manual": "refreshed by hand",
    "scheduled": "schedule",
    "new_receipts": "new receipts",
    "retry": "retry",
}


@register.filter
def trigger_words(trigger):
    return TRIGGER_WORDS.get(trigger, str(trigger).replace("_", " "))


@register.filter
def policy_text(policy):
    if not isinstance(policy, dict):
        return ""
    parts = []
    if policy.get("onNewReceipts"):
        parts.append("when receipts arrive")
    schedule = policy.get("schedule") or {}
    kind = schedule.get("type")
    if kind == "daily":
        parts.append(f"daily at {schedule.get('at')}")
    elif kind == "every":
        parts.append(f"every {schedule.get('minutes')} minutes")
    elif kind == "cron":
        parts.append(f"on cron {schedule.get('expression')}")
    return ", ".join(parts) or "manually only"


@register.filter
def get(mapping, key):
    return mapping.get(key, "") if isinstance(mapping, dict) else ""


@register.filter
def localend(value, account):
    """An exclusive end instant as the inclusive last day people read: midnight ends the day before."""
    return formatting.local(value and value - timedelta(microseconds=1), account.tz, "%Y-%m-%d")
