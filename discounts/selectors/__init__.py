"""Reads of discount rules and refs, and their API representations. Every query is scoped to one account."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_filters import FilterSet

from discounts import sql as statements
from discounts.documents import ANY_CUSTOMER, NO_CUSTOMER, WILDCARD_ITEM, public_metadata
from discounts.errors import InvalidCursor, PushNotFound, RuleNotFound
from discounts.models import DiscountRef, DiscountRule, PushLink, PushRun
from discounts.selectors.statistics import rule_statistics
from loyalty.accounts.models import Account
from loyalty.core.sql import raw_cursor
from segments.models import Segment


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# --- representations --------------------------------------------------------------------------------------------


def _with_default_shapes(document: dict[str, Any]) -> dict[str, Any]:
    """`links: []`, `limitation: {}` and `requirement.customer: {}` where the document has none: Dintero's own
    fixtures always carry them, and its web widget reads `discount.links.find(...)` and
    `discount.limitation.discount_reward_usage` without checking (one rule without them blanks its whole list)."""
    requirement = document.get("requirement")
    return {
        **document,
        "links": document.get("links", []),
        "limitation": document.get("limitation", {}),
        "requirement": {"customer": {}, **requirement} if isinstance(requirement, dict) else requirement,
    }


def rule_to_api(rule: DiscountRule, *, statistics: bool | Mapping[str, int] = False) -> dict[str, Any]:
    """The stored document as posted, with the server's fields and the default shapes of what it left out.

    `statistics`: True reads the rule's from the usage ledger (selectors.statistics); a list passes each rule the
    ones it read for all of them at once."""
    body = {
        **_with_default_shapes(rule.document),
        "id": str(rule.id),
        "type": rule.type,
        "active": rule.active,
        "private": rule.private,
        "created_at": iso(rule.created_at),
        "created_by": rule.created_by,
        "updated_at": iso(rule.updated_at),
        "updated_by": rule.updated_by,
    }
    if rule.deleted_at:
        body["deleted_at"] = iso(rule.deleted_at)
        body["deleted_by"] = rule.deleted_by
    if statistics is True:
        body["statistics"] = rule_statistics(account_id=rule.account_id, rules=[rule])[rule.pk]
    elif statistics:
        body["statistics"] = dict(statistics)
    return body


def rule_to_public(ref: DiscountRef) -> dict[str, Any]:
    """For public:discounts readers: no excluded metadata, and not who created or changed the rule."""
    body = rule_to_api(ref.rule)
    del body["created_by"], body["updated_by"]
    if "metadata" in body:
        body["metadata"] = public_metadata(body["metadata"])
    body["ref_id"] = str(ref.id)
    return body


def customer_rule_to_api(ref: DiscountRef, statistics: Mapping[str, int]) -> dict[str, Any]:
    """A rule as one customer holds it: `statistics` are this ref's, for them (selectors.statistics.ref_statistics)."""
    return {**rule_to_api(ref.rule, statistics=statistics), "ref_id": str(ref.id)}


def ref_to_api(ref: DiscountRef) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(ref.id),
        "created_at": iso(ref.created_at),
        "created_by": ref.created_by,
        "updated_at": iso(ref.deleted_at or ref.created_at),
    }
    # The spec: "The customer_id will be null if the ref originated from giving the discount to all customers".
    body["customer_id"] = None if ref.customer_id == ANY_CUSTOMER else ref.customer_id
    if ref.offering_constraint_id:
        body["offering_constraint_id"] = ref.offering_constraint_id
    if ref.deleted_at:
        body["deleted_at"] = iso(ref.deleted_at)
        body["deleted_by"] = ref.deleted_by
    return body


# --- rules ------------------------------------------------------------------------------------------------------


def rules_for_account(*, account: Account) -> QuerySet[DiscountRule]:
    """Deleted rules included."""
    return DiscountRule.objects.filter(account=account)


def rule_find(*, account: Account, rule_id: str) -> DiscountRule | None:
    """A live rule of the account, or None for deleted, foreign and malformed ids."""
    try:
        pk = uuid.UUID(rule_id)
    except ValueError:
        return None
    return DiscountRule.objects.filter(account=account, pk=pk, deleted_at__isnull=True).first()


def rule_get(*, account: Account, rule_id: str) -> DiscountRule:
    """A live rule of the account; deleted, foreign and malformed ids are all 404."""
    rule = rule_find(account=account, rule_id=rule_id)
    if rule is None:
        raise RuleNotFound(rule_id)
    return rule


def rule_get_for_refs(*, account: Account, rule_id: str) -> DiscountRule:
    """A rule of the account whose refs can be listed: deleted rules too (they keep their refs)."""
    try:
        pk = uuid.UUID(rule_id)
    except ValueError as exc:
        raise RuleNotFound(rule_id) from exc
    rule = DiscountRule.objects.filter(account=account, pk=pk).first()
    if rule is None:
        raise RuleNotFound(rule_id)
    return rule


def rule_was_given(*, account: Account, rule: DiscountRule) -> bool:
    """Ever given to anyone, taken back or not (a ref is where any use would have been recorded)."""
    return DiscountRef.objects.filter(account=account, rule=rule).exists()


def rule_list(
    *, account: Account, filters: FilterSet, limit: int, starting_after: uuid.UUID | None
) -> list[DiscountRule]:
    """Newest first, paged by id. With since_datetime: oldest change first, the reader pages by moving it on."""
    queryset = filters.filter_queryset(rules_for_account(account=account))
    if filters.form.cleaned_data.get("since_datetime"):
        return list(queryset.order_by("updated_at", "id")[:limit])
    if starting_after:
        queryset = queryset.filter(id__lt=starting_after)
    return list(queryset.order_by("-id")[:limit])


# --- refs -------------------------------------------------------------------------------------------------------


def rule_refs(
    *, account: Account, rule: DiscountRule, filters: FilterSet, limit: int, starting_after: uuid.UUID | None
) -> list[DiscountRef]:
    """A rule's refs in the order they were given; a new ref lands after every page already read."""
    queryset = filters.filter_queryset(DiscountRef.objects.filter(account=account, rule=rule))
    if starting_after:
        queryset = queryset.filter(id__gt=starting_after)
    return list(queryset.order_by("id")[:limit])


def rule_live_refs_count(*, account: Account, rule: DiscountRule) -> int:
    return DiscountRef.objects.filter(account=account, rule=rule, deleted_at__isnull=True).count()


def visible_now(now: datetime) -> Q:
    """Rules a customer sees now: live, active, not expired, and from visible_from (else purchase_from) on."""
    return Q(
        rule__deleted_at__isnull=True,
        rule__active=True,
        rule__purchase_to__gt=now,
    ) & (Q(rule__visible_from__lte=now) | Q(rule__visible_from__isnull=True, rule__purchase_from__lte=now))


def _customer_ids_with_wildcard(customer_id: str) -> list[str]:
    """A customer's own refs count, and those given to `*` (any purchase with a customer id)."""
    return [customer_id] if customer_id == NO_CUSTOMER else [customer_id, ANY_CUSTOMER]


def _live_refs(account: Account, customer_ids: Sequence[str]) -> QuerySet[DiscountRef]:
    return DiscountRef.objects.filter(account=account, customer_id__in=customer_ids, deleted_at__isnull=True)


def customer_rules(
    *, account: Account, customer_id: str, limit: int, starting_after: uuid.UUID | None
) -> list[DiscountRef]:
    """One entry per live ref (a customer may hold a rule several times), oldest first; the cursor is a ref id."""
    queryset = (
        _live_refs(account, _customer_ids_with_wildcard(customer_id))
        .filter(visible_now(timezone.now()))
        .select_related("rule")
    )
    if starting_after:
        queryset = queryset.filter(id__gt=starting_after)
    return list(queryset.order_by("id")[:limit])


def public_rules(
    *, account: Account, filters: FilterSet, limit: int, starting_after: uuid.UUID | None
) -> list[DiscountRef]:
    """Rules given to everyone (`*`, or `/` with no_customer_id) that are not private; one entry per such ref."""
    queryset = (
        filters.filter_queryset(DiscountRef.objects.filter(account=account, deleted_at__isnull=True))
        .filter(visible_now(timezone.now()), rule__private=False)
        .select_related("rule")
    )
    if starting_after:
        queryset = queryset.filter(id__gt=starting_after)
    return list(queryset.order_by("id")[:limit])


def public_rule_get(*, account: Account, rule_id: str) -> DiscountRef:
    """A rule the public collection lists (either audience), by its earliest public ref."""
    rule = rule_get(account=account, rule_id=rule_id)
    ref = (
        _live_refs(account, [ANY_CUSTOMER, NO_CUSTOMER])
        .filter(visible_now(timezone.now()), rule=rule, rule__private=False)
        .select_related("rule")
        .order_by("id")
        .first()
    )
    if ref is None:
        raise RuleNotFound(rule_id)
    return ref


# --- search -----------------------------------------------------------------------------------------------------

SEARCH_GROUPS = {
    "customer_id#$.requirement.item.items[*].id": "id",
    "customer_id#$.requirement.item.items[*].group_id": "group_id",
}
SEARCH_INCLUDES = (
    "$.campaign_id",
    "$.created_at",
    "$.created_by",
    "$.description",
    "$.id",
    "$.limitation",
    "$.links",
    "$.metadata",
    "$.name",
    "$.private",
    "$.receipt_text",
    "$.requirement",
    "$.reward",
    "$.type",
    "$.updated_at",
    "$.updated_by",
    "$.visible_from",
)
SEARCH_ITEMS = "$.requirement.item.items[*]"


@dataclass(frozen=True)
class SearchPage:
    data: list[dict[str, Any]]
    starting_after: str | None


def encode_cursor(key: tuple[str, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, ...]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor("starting_after must be the starting_after of a previous search result") from exc
    if not isinstance(key, list) or len(key) != 4 or not all(isinstance(part, str) for part in key):
        raise InvalidCursor("starting_after must be the starting_after of a previous search result")
    return tuple(key)


def _item_matches(wanted: dict[str, Any], item: Any) -> bool:
    """Every id/group_id the query names equals the rule item's; a query item naming neither matches nothing."""
    keys = [key for key in ("id", "group_id") if isinstance(wanted.get(key), str)]
    return bool(keys) and isinstance(item, dict) and all(item.get(key) == wanted[key] for key in keys)


def rules_search(
    *,
    account: Account,
    query: list[dict[str, Any]],
    group_by: list[str],
    includes: list[str] | None,
    limit: int,
    starting_after: tuple[str, ...] | None,
) -> SearchPage:
    """Item rules usable now by the queried customers, one row per (customer, group, matching item's value, rule).

    A row's group is the matching rule item's id or group_id, as `group_by` asks. Rows are ordered by that key,
    which is also the cursor. Rules given to `*` count for every customer but `/`.
    """
    now = timezone.now()
    customers = {customer for entry in query for customer in entry["customer_id"]}
    lookup = (customers | {ANY_CUSTOMER}) if customers - {NO_CUSTOMER} else customers
    refs = (
        _live_refs(account, sorted(lookup))
        .filter(
            visible_now(now),
            rule__purchase_from__lte=now,  # usable now, not merely visible
            rule__type=DiscountRule.Type.ITEM,
        )
        .select_related("rule")
    )
    held: dict[str, dict[uuid.UUID, DiscountRule]] = defaultdict(dict)
    for ref in refs:
        held[ref.customer_id][ref.rule_id] = ref.rule
    picked = [path.removeprefix("$.") for path in (includes if includes is not None else SEARCH_INCLUDES)]

    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for entry in query:
        wanted = [item for item in entry[SEARCH_ITEMS] if isinstance(item, dict)]
        for customer in entry["customer_id"]:
            rules = {**(held[ANY_CUSTOMER] if customer != NO_CUSTOMER else {}), **held[customer]}
            for rule in rules.values():
                items = rule.document["requirement"].get("item", {}).get("items", [])
                for item in (i for i in items if any(_item_matches(w, i) for w in wanted)):
                    for group in group_by:
                        value = item.get(SEARCH_GROUPS[group])
                        if not isinstance(value, str) or value == WILDCARD_ITEM:
                            continue
                        key = (customer, group, value, str(rule.id))
                        if key not in rows:
                            full = rule_to_api(rule)
                            rows[key] = {
                                "group_by": group.partition("#")[2],
                                "group_value": value,
                                "customer_id": customer,
                                **{k: item[k] for k in ("id", "group_id") if isinstance(item.get(k), str)},
                                "rule": {name: full[name] for name in picked if name in full},
                            }
    keys = sorted(key for key in rows if starting_after is None or key > starting_after)
    page = keys[:limit]
    return SearchPage(
        data=[rows[key] for key in page],
        starting_after=encode_cursor(page[-1]) if len(keys) > limit else None,
    )


@dataclass(frozen=True)
class MembershipDiff:
    version: int | None  # the segment's published version; None before its first successful run
    added: list[str]  # customer ids in it that were not members of `since_version`
    removed: list[str]  # customer ids of `since_version` that are not in it


def segment_membership_diff(*, segment: Segment, since_version: int | None) -> MembershipDiff:
    """The published version and what changed since `since_version` (None: since nobody, i.e. every member), read
    in one statement (discounts.sql.MEMBERSHIP_DIFF), so it never sees a half-published version."""
    cur = raw_cursor()
    cur.execute(statements.MEMBERSHIP_DIFF, {"segment": segment.pk, "since": since_version})
    row = cur.fetchone()
    if row is None or row[0] is None:
        return MembershipDiff(version=None, added=[], removed=[])
    return MembershipDiff(version=row[0], added=list(row[1]), removed=list(row[2]))


def segment_published_size(*, segment: Segment) -> tuple[int | None, int]:
    """The segment's published version and how many members it has, read in one statement; (None, 0) before a first
    successful run."""
    cur = raw_cursor()
    cur.execute(statements.PUBLISHED_SIZE, {"segment": segment.pk})
    row = cur.fetchone()
    if row is None or row[0] is None:
        return None, 0
    return row[0], row[1]


def push_runs_for_segment(*, segment) -> QuerySet[PushRun]:
    return PushRun.objects.filter(segment=segment).select_related("rule").order_by("-created_at")


def push_run_get(*, segment, push_id: str) -> PushRun:
    try:
        key = uuid.UUID(str(push_id))
    except ValueError as exc:
        raise PushNotFound from exc
    run = PushRun.objects.filter(segment=segment, pk=key).select_related("rule").first()
    if run is None:
        raise PushNotFound
    return run


def push_links_for_segment(*, segment) -> QuerySet[PushLink]:
    return PushLink.objects.filter(segment=segment).select_related("rule").order_by("created_at")


def push_links_for_rule(*, rule) -> QuerySet[PushLink]:
    return PushLink.objects.filter(rule=rule).select_related("segment").order_by("created_at")


def pushed_rules_for_segment(*, segment) -> QuerySet[DiscountRule]:
    """Rules this segment feeds: linked (sync) or pushed once, not deleted."""
    linked = PushLink.objects.filter(segment=segment, rule=OuterRef("pk"))
    pushed = PushRun.objects.filter(segment=segment, rule=OuterRef("pk"), status="succeeded")
    return (
        DiscountRule.objects.filter(account_id=segment.account_id, deleted_at__isnull=True)
        .filter(Exists(linked) | Exists(pushed))
        .annotate(
            synced=Exists(linked),
            # the link's holdout and its counts (0 for a rule pushed once)
            holdout_percent=Coalesce(Subquery(linked.values("holdout_percent")[:1]), 0),
            assigned_count=Coalesce(Subquery(linked.values("assigned_count")[:1]), 0),
            held_out_count=Coalesce(Subquery(linked.values("held_out_count")[:1]), 0),
        )
        .order_by("name", "id")
    )


# --- back-office pages ---------------------------------------------------------------------------------------------


def rules_overview(*, account: Account) -> list[DiscountRule]:
    """Live rules, newest first, with how many customers hold them and the segments feeding them."""
    return list(
        DiscountRule.objects.filter(account=account, deleted_at__isnull=True)
        .annotate(customers=Count("refs", filter=Q(refs__deleted_at__isnull=True)))
        .prefetch_related(Prefetch("push_links", queryset=PushLink.objects.select_related("segment")))
        .order_by("-id")[:500]
    )


def rule_live_refs_page(
    *, account: Account, rule: DiscountRule, limit: int, after: uuid.UUID | None
) -> list[DiscountRef]:
    """Live refs in the order they were given; one more than `limit` tells there is a next page."""
    queryset = DiscountRef.objects.filter(account=account, rule=rule, deleted_at__isnull=True)
    if after:
        queryset = queryset.filter(id__gt=after)
    return list(queryset.order_by("id")[: limit + 1])
