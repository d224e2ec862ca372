"""Segments: builder (create/edit with errors by field), live preview, the segment page and its actions."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest
from django.urls import reverse

from discounts.models import PushLink, PushRun
from loyalty.web.criteria_ui import CATALOGUE
from receipts.models import Customer
from segments.criteria import CRITERIA
from segments.models import MembershipSpan, Segment, SegmentRun
from segments.services.segments import segment_create

pytestmark = pytest.mark.django_db

TWO_PARTS = [
    {"criteria": [{"type": "transaction_count", "min": 1}]},
    {"criteria": [{"type": "bought_through_channel", "channelIds": ["S2"]}]},
]


def url(name, account, **kwargs):
    return reverse(f"web:{name}", kwargs={"aid": account.aid, **kwargs})


@pytest.fixture
def segment(shop):
    return segment_create(account=shop, data={"name": "Buyers in S2", "parts": TWO_PARTS}, actor="test")


@pytest.fixture
def foreign_segment(other_account):
    return segment_create(account=other_account, data={"name": "Theirs", "parts": TWO_PARTS}, actor="test")


def test_the_builder_offers_every_criterion_type_of_the_engine():
    assert {c["type"] for c in CATALOGUE} == set(CRITERIA)


def test_preview_counts_the_whole_definition_and_each_part(shop, owner):
    # when the builder asks for a preview of a two-part definition
    response = owner.post(url("preview", shop), json.dumps({"parts": TWO_PARTS}), content_type="application/json")
    # then it gets the total and each part's count
    body = response.json()
    assert response.status_code == 200
    assert body["customersCount"] == 2
    assert [p["customersCount"] for p in body["parts"]] == [2, 2]
    assert body["errors"] == []


def test_preview_counts_the_valid_parts_and_reports_errors_by_path(shop, owner):
    parts = [TWO_PARTS[0], {"criteria": [{"type": "transaction_amount", "fromAmount": "abc"}]}]
    body = owner.post(url("preview", shop), json.dumps({"parts": parts}), content_type="application/json").json()
    assert body["customersCount"] is None
    assert body["parts"] == [{"customersCount": 2}, {"customersCount": None}]
    assert body["errors"] == [{"path": "parts[1].criteria[0].fromAmount", "message": "This value should be a number."}]


def test_viewers_may_look_at_a_preview_page_but_not_post(shop, viewer):
    response = viewer.post(url("preview", shop), "{}", content_type="application/json")
    assert response.status_code == 403


def test_saving_a_new_segment_creates_it_and_queues_its_calculation(shop, owner):
    # when the builder form is posted
    response = owner.post(
        url("segment-new", shop), {"name": "Regulars", "description": "d", "parts": json.dumps(TWO_PARTS)}
    )
    # then the segment exists, a run is queued and the user lands on its page
    segment = Segment.objects.get(account=shop, name="Regulars")
    assert response.status_code == 302 and response["Location"] == url("segment", shop, segment_id=segment.uuid)
    assert SegmentRun.objects.filter(segment=segment, status="queued").count() == 1


@pytest.mark.parametrize(
    ("name", "parts", "error"),
    [
        ("", TWO_PARTS, "This value should not be blank."),
        ("X", [{"criteria": [{"type": "transaction_count"}]}], "parts[0].criteria[0].min"),
        ("X", "{not json", "The definition could not be read"),
    ],
)
def test_validation_errors_come_back_next_to_their_fields(shop, owner, name, parts, error):
    raw = parts if isinstance(parts, str) else json.dumps(parts)
    response = owner.post(url("segment-new", shop), {"name": name, "parts": raw})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Segment.objects.filter(account=shop).exists()


def test_a_field_the_criterion_does_not_read_shows_on_the_builder(shop, owner):
    parts = [{"criteria": [{"type": "transaction_count", "min": 1, "fromDate": "2025-01-01"}]}]
    response = owner.post(url("segment-new", shop), {"name": "X", "parts": json.dumps(parts)})
    assert response.status_code == 400
    errors = response.context["builder"]["errors"]
    assert errors == [
        {"path": "parts[0].criteria[0].fromDate", "message": "The criterion transaction_count has no field 'fromDate' "
         "(it would be ignored)."}
    ]  # fmt: skip
    assert not Segment.objects.filter(account=shop).exists()


def _span(segment, customer_id, entered, reason, left=None, left_reason=""):
    customer = Customer.objects.get(account=segment.account, customer_id=customer_id)
    return MembershipSpan.objects.create(
        segment=segment,
        customer=customer,
        entered_at=datetime.fromisoformat(entered),
        entered_run=uuid.uuid4(),
        entered_reason=reason,
        left_at=datetime.fromisoformat(left) if left else None,
        left_run=uuid.uuid4() if left else None,
        left_reason=left_reason,
    )


def test_the_segment_page_lists_recent_entries_and_exits_with_reasons(segment, owner, shop):
    # given C1 entered with new receipts and C2 entered at creation and left by the clock
    _span(segment, "C2", "2025-05-01T10:00:00+00:00", "definition_change", "2025-06-09T03:00:00+00:00", "time_window")
    _span(segment, "C1", "2025-05-03T10:00:00+00:00", "new_receipts")

    response = owner.get(url("segment", shop, segment_id=segment.uuid))

    # then the latest first, each with the customer's link and the reason in words (times in the account's zone)
    rows = [(m["at"], m["event"].customer_id, m["event"].entered, m["reason"]) for m in response.context["movements"]]
    assert rows == [
        ("2025-06-09 05:00", "C2", False, "time window"),
        ("2025-05-03 12:00", "C1", True, "new receipts"),
        ("2025-05-01 12:00", "C2", True, "definition changed"),
    ]
    body = response.content.decode()
    c1 = Customer.objects.get(account=shop, customer_id="C1")
    assert reverse("web:customer", kwargs={"aid": shop.aid, "pk": c1.pk}) in body
    assert "Recent entries and exits" in body


def test_the_segment_page_keeps_the_latest_20_movements(segment, owner, shop):
    for day in range(1, 16):
        _span(
            segment, "C1", f"2025-05-{day:02d}T10:00:00+00:00", "manual", f"2025-05-{day:02d}T11:00:00+00:00", "manual"
        )
    movements = owner.get(url("segment", shop, segment_id=segment.uuid)).context["movements"]
    assert len(movements) == 20 and movements[0]["at"] == "2025-05-15 13:00"


def test_a_segment_nobody_entered_says_so(segment, owner, shop):
    body = owner.get(url("segment", shop, segment_id=segment.uuid)).content.decode()
    assert "Nobody has entered or left this segment yet." in body


def test_editing_keeps_the_segment_inactive_when_it_was(segment, owner, shop):
    Segment.objects.filter(pk=segment.pk).update(active=False)
    owner.post(
        url("segment-edit", shop, segment_id=segment.uuid),
        {"name": "Renamed", "parts": json.dumps([TWO_PARTS[0]])},
    )
    segment.refresh_from_db()
    assert (segment.name, segment.active, len(segment.definition["parts"])) == ("Renamed", False, 1)


def test_the_edit_page_carries_the_stored_definition_to_the_builder(segment, owner, shop):
    response = owner.get(url("segment-edit", shop, segment_id=segment.uuid))
    assert response.context["builder"]["parts"][1]["criteria"][0]["channelIds"] == ["S2"]


def test_the_segment_page_shows_stats_runs_members_and_the_progress_box(
    segment, owner, shop, django_assert_max_num_queries
):
    with django_assert_max_num_queries(25):
        response = owner.get(url("segment", shop, segment_id=segment.uuid))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-progress-url="' + url("segment-progress", shop, segment_id=segment.uuid) in body
    assert "Calculation history" in body and "Edit" in body and "Push to rule" in body


def test_progress_is_small_json(segment, owner, shop):
    body = owner.get(url("segment-progress", shop, segment_id=segment.uuid)).json()
    assert body == {
        "status": "queued",
        "progress": 0,
        "label": "Waiting for a worker…",
        "done": False,
        "customersCount": 0,
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("walk_customers_from", [0, 10**9])  # large segments walk customers, small ones join
def test_members_search_pages_and_csv_export(segment, owner, shop, monkeypatch, walk_customers_from):
    from segments.services.runs import segment_recalculate

    monkeypatch.setattr("segments.selectors.WALK_CUSTOMERS_FROM", walk_customers_from)
    run = SegmentRun.objects.get(segment=segment)
    segment_recalculate(run_id=run.pk)
    page = owner.get(url("segment", shop, segment_id=segment.uuid), {"q": "C2"})
    assert [c.customer_id for c in page.context["members"]] == ["C2"]
    export = owner.get(url("segment-export", shop, segment_id=segment.uuid))
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert export["Content-Type"].startswith("text/csv")
    assert lines[0] == (
        "customer_id,first_name,last_name,email,phone,member_since,purchases,net_spend_NOK,gross_spend_NOK"
    )
    assert [line.split(",")[0] for line in lines[1:]] == ["C1", "C2"]
    # named after the segment; phone numbers stay usable; member since from the ledger; spend net and gross
    assert export["Content-Disposition"] == (
        "attachment; filename=\"Buyers in S2.csv\"; filename*=UTF-8''Buyers%20in%20S2.csv"
    )
    c1 = lines[1].split(",")
    since = MembershipSpan.objects.get(segment=segment, customer__customer_id="C1").entered_at
    assert c1[4] == "+47900001"
    assert c1[5] == since.astimezone(shop.tz).strftime("%Y-%m-%d %H:%M")
    assert c1[6:] == ["2", "310.00", "350.00"]


@pytest.mark.parametrize("name", ["segment", "segment-edit", "segment-progress", "segment-export", "segment-delete"])
def test_another_accounts_segment_is_404(shop, owner, foreign_segment, name):
    assert owner.get(url(name, shop, segment_id=foreign_segment.uuid)).status_code == 404


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("segment-active", {"active": "false"}),
        ("segment-refresh", {}),
        ("segment-delete", {}),
        ("segment-push", {"rule": "new"}),
        ("segment-edit", {"name": "x", "parts": "[]"}),
    ],
)
def test_viewers_cannot_change_segments(segment, viewer, shop, name, data):
    response = viewer.post(url(name, shop, segment_id=segment.uuid), data)
    assert response.status_code == 403
    assert Segment.objects.filter(pk=segment.pk, active=True).exists()


def test_viewers_see_no_change_buttons_on_the_segment_page(segment, viewer, shop):
    body = viewer.get(url("segment", shop, segment_id=segment.uuid)).content.decode()
    for label in ("Refresh now", "Deactivate", "Delete", "Push to rule", ">Edit<"):
        assert label not in body


def test_activate_deactivate_and_refresh(segment, owner, shop):
    owner.post(url("segment-active", shop, segment_id=segment.uuid), {"active": "false"})
    assert not Segment.objects.get(pk=segment.pk).active
    owner.post(url("segment-active", shop, segment_id=segment.uuid), {"active": "true"})
    # a retry comes after a failure (a queued run would absorb it)
    SegmentRun.objects.filter(segment=segment).update(status="failed")
    owner.post(url("segment-refresh", shop, segment_id=segment.uuid), {"retry": "1"})
    triggers = set(SegmentRun.objects.filter(segment=segment).values_list("trigger", flat=True))
    assert {"activated", "retry"} <= triggers


def test_delete_confirmation_names_the_linked_rules_then_deletes(segment, owner, shop):
    # given a rule kept in sync with the segment
    owner.post(
        url("segment-push", shop, segment_id=segment.uuid),
        {
            "rule": "new",
            "name": "VIP 10%",
            "reward_type": "discount_percent",
            "reward_value": "10",
            "purchase_from": "2025-01-01",
            "purchase_to": "2030-12-31",
            "mode": "sync",
            "remove_departed": "on",
        },
    )
    # when deleting, the confirmation names it
    confirm = owner.get(url("segment-delete", shop, segment_id=segment.uuid)).content.decode()
    assert "VIP 10%" in confirm
    response = owner.post(url("segment-delete", shop, segment_id=segment.uuid))
    assert response.status_code == 302 and not Segment.objects.filter(pk=segment.pk).exists()


def test_push_to_a_new_rule_in_sync_mode(segment, owner, shop):
    response = owner.post(
        url("segment-push", shop, segment_id=segment.uuid),
        {
            "rule": "new",
            "name": "Coffee lovers",
            "reward_type": "discount_amount",
            "reward_value": "50",
            "purchase_from": "2025-01-01",
            "purchase_to": "2030-12-31",
            "mode": "sync",
            "remove_departed": "on",
        },
    )
    assert response.status_code == 302
    push = PushRun.objects.get(segment=segment)
    assert (push.mode, push.remove_departed, push.rule.name) == ("sync", True, "Coffee lovers")
    assert push.rule.document["reward"] == {"type": "discount_amount", "value": 5000}
    assert PushLink.objects.filter(segment=segment, rule=push.rule).exists()


def test_a_push_once_of_an_uncalculated_segment_explains_why_and_leaves_no_rule(segment, owner, shop):
    response = owner.post(
        url("segment-push", shop, segment_id=segment.uuid),
        {
            "rule": "new",
            "name": "Once",
            "reward_type": "discount_amount",
            "reward_value": "50",
            "purchase_from": "2025-01-01",
            "purchase_to": "2030-12-31",
            "mode": "once",
        },
    )
    assert response.status_code == 400
    assert "has not been calculated yet" in response.content.decode()
    assert not PushRun.objects.exists()
    from discounts.models import DiscountRule

    assert not DiscountRule.objects.filter(name="Once").exists()


def test_an_empty_segment_list_says_what_to_do(account, owner):
    body = owner.get(url("segments", account)).content.decode()
    assert "No segments yet." in body and "Build your first segment" in body


def test_suggestions_come_from_the_accounts_receipts(shop, owner):
    body = owner.get(url("suggest", shop), {"kind": "group", "q": "G"}).json()
    assert body == {"results": [{"value": "G1", "name": "Coffee"}]}
    assert owner.get(url("suggest", shop), {"kind": "store"}).status_code == 400


def test_stop_syncing_removes_the_link_and_keeps_the_customers(segment, owner, shop):
    owner.post(
        url("segment-push", shop, segment_id=segment.uuid),
        {
            "rule": "new",
            "name": "Synced",
            "reward_type": "discount_percent",
            "reward_value": "5",
            "purchase_from": "2025-01-01",
            "purchase_to": "2030-12-31",
            "mode": "sync",
        },
    )
    link = PushLink.objects.get(segment=segment)
    response = owner.post(url("segment-unlink", shop, segment_id=segment.uuid, rule_id=link.rule_id))
    assert response.status_code == 302
    assert not PushLink.objects.filter(segment=segment).exists()


SAMPLES = {
    "int": 1,
    "decimal": "50",
    "amount": "10.5",
    "date": "2025-01-01",
    "text": "x",
    "textarea": "C1\nC2",
    "store": "S1",
    "stores": ["S1"],
    "tokens": ["x"],
    "keys": [{"key": "k"}],
    "key_values": [{"key": "k", "value": "v"}],
    "item_objects": [{"id": "I1"}, {"group": "G1"}],
}


@pytest.mark.parametrize("spec", CATALOGUE, ids=[c["type"] for c in CATALOGUE])
def test_every_builder_form_produces_a_definition_the_engine_accepts(spec):
    from segments.criteria import validate_definition

    # given every input of the criterion's form filled in the way the builder sends it
    criterion = {"type": spec["type"]}
    for field in spec["fields"]:
        if field["kind"] == "choice":
            value = field["choices"][0][0]
            criterion[field["name"]] = value == "true" if field.get("boolean") else value
        else:
            criterion[field["name"]] = SAMPLES[field["kind"]]
    # then the engine's validation accepts it
    assert validate_definition([{"criteria": [criterion]}])


def test_push_form_errors_show_next_to_the_fields(segment, owner, shop):
    response = owner.post(url("segment-push", shop, segment_id=segment.uuid), {"rule": "new", "mode": "sync"})
    assert response.status_code == 400
    assert response.content.decode().count("Required for a new rule.") == 5


def test_the_csv_export_is_named_after_the_segment_in_any_language():
    from loyalty.web.csv_export import content_disposition

    assert content_disposition("Vår/kunder: *beste*.csv") == (
        "attachment; filename=\"Var-kunder- -beste-.csv\"; filename*=UTF-8''V%C3%A5r-kunder-%20-beste-.csv"
    )
    assert content_disposition("???") == "attachment; filename=\"export.csv\"; filename*=UTF-8''export.csv"


def test_the_segment_page_marks_links_to_inactive_rules(segment, owner, shop):
    from discounts.services import rule_create, rule_update

    rules = [
        rule_create(
            account=shop,
            document={
                "name": name,
                "requirement": {"purchase_from": "2026-01-01T00:00:00Z", "purchase_to": "2027-01-01T00:00:00Z"},
                "reward": {"type": "discount_percent", "value": 10},
            },
            actor="t",
        )
        for name in ("Live rule", "Switched off")
    ]
    rule_update(account=shop, rule=rules[1], changes={"active": False}, actor="t")
    for rule in rules:
        PushLink.objects.create(account=shop, segment=segment, rule=rule)

    body = owner.get(url("segment", shop, segment_id=segment.uuid)).content.decode()

    links = body.split('id="segment-links"', 1)[1].split("</ul>", 1)[0]
    live, off = links.split("Switched off", 1)
    assert "Inactive rule" not in live and "Inactive rule" in off


def test_viewers_cannot_create_segments(shop, viewer):
    response = viewer.post(url("segment-new", shop), {"name": "Nope", "parts": json.dumps(TWO_PARTS)})
    assert response.status_code == 403
    assert not Segment.objects.filter(account=shop).exists()


@pytest.fixture
def three_segments(shop):
    """Small (never calculated, inactive), Middle (paused) and Large, with sizes and calculation times set."""
    from django.utils import timezone

    made = {
        name: segment_create(account=shop, data={"name": name, "parts": TWO_PARTS}, actor="t")
        for name in ("Small coffee buyers", "Middle", "Large")
    }
    now = timezone.now()
    Segment.objects.filter(pk=made["Small coffee buyers"].pk).update(customers_count=3, active=False)
    Segment.objects.filter(pk=made["Middle"].pk).update(customers_count=50, calculated_at=now, paused_at=now)
    Segment.objects.filter(pk=made["Large"].pk).update(
        customers_count=900, calculated_at=now - timezone.timedelta(days=1), description="All the coffee"
    )
    return made


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Large", "Middle", "Small coffee buyers"]),
        ({"sort": "largest"}, ["Large", "Middle", "Small coffee buyers"]),
        ({"sort": "smallest"}, ["Small coffee buyers", "Middle", "Large"]),
        ({"sort": "recent"}, ["Middle", "Large", "Small coffee buyers"]),
        ({"sort": "oldest"}, ["Large", "Middle", "Small coffee buyers"]),
        ({"q": "COFFEE"}, ["Large", "Small coffee buyers"]),  # name or description, any case
        ({"state": "inactive"}, ["Small coffee buyers"]),
        ({"state": "paused"}, ["Middle"]),
        ({"state": "active"}, ["Large"]),
        ({"q": "coffee", "state": "active", "sort": "smallest"}, ["Large"]),
        ({"sort": "nonsense", "state": "nonsense"}, ["Large", "Middle", "Small coffee buyers"]),
    ],
)
def test_the_segments_list_searches_filters_and_sorts(three_segments, owner, shop, params, expected):
    response = owner.get(url("segments", shop), params)
    assert response.status_code == 200
    assert [s.name for s in response.context["segments"]] == expected


def test_the_segments_list_is_one_account_in_a_few_queries(
    three_segments, foreign_segment, owner, shop, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        response = owner.get(url("segments", shop), {"q": "e", "sort": "largest"})
    assert "Theirs" not in response.content.decode()
    assert len(response.context["segments"]) == 3


def test_a_search_without_matches_says_so(three_segments, owner, shop):
    body = owner.get(url("segments", shop), {"q": "tea"}).content.decode()
    assert "No segment matches “tea”." in body and 'id="segments-table"' not in body


def test_an_empty_bought_items_is_refused_with_the_builders_message(account, owner):
    parts = [{"criteria": [{"type": "bought_items", "minPurchases": 2}]}]

    preview = owner.post(
        reverse("web:preview", kwargs={"aid": account.aid}),
        json.dumps({"parts": parts}),
        content_type="application/json",
    ).json()
    saved = owner.post(
        reverse("web:segment-new", kwargs={"aid": account.aid}), {"name": "Empty", "parts": json.dumps(parts)}
    )

    expected = {
        "path": "parts[0].criteria[0].items",
        "message": "Choose at least one item or group, or “any purchase”.",
    }
    assert preview["errors"] == [expected]
    assert saved.status_code == 400 and expected in saved.context["builder"]["errors"]
    assert not Segment.objects.exists()


def test_the_segment_page_names_its_stores(segment, owner, shop):
    body = owner.get(url("segment", shop, segment_id=segment.uuid)).content.decode()
    assert "Bought in stores: stores Store S2 (S2)" in body
