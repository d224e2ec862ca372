"""Discount rules: list, create and edit with structured inputs, a rule's customers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from discounts.models import DiscountRule
from discounts.services import rule_create, rule_customers_give
from receipts.models import Customer

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Spend 500, get 50 off",
    "purchase_from": "2025-01-01",
    "purchase_to": "2030-12-31",
    "reward_type": "discount_amount",
    "reward_value": "50",
    "min_gross": "500",
    "item_ids": "COFFEE, TEA",
    "group_ids": "G1",
    "reward_usage": "2",
    "active": "on",
}


def url(name, account, **kwargs):
    return reverse(f"web:{name}", kwargs={"aid": account.aid, **kwargs})


def make_rule(account, name="Rule"):
    now = timezone.now()
    return rule_create(
        account=account,
        document={
            "name": name,
            "requirement": {"purchase_from": now.isoformat(), "purchase_to": (now + timedelta(days=30)).isoformat()},
            "reward": {"type": "discount_percent", "value": 10},
        },
        actor="test",
    )


def test_creating_a_rule_builds_the_dintero_document(account, owner):
    response = owner.post(url("rule-new", account), FORM)
    rule = DiscountRule.objects.get(account=account)
    assert response.status_code == 302 and response["Location"] == url("rule", account, rule_id=rule.pk)
    document = rule.document
    assert document["reward"] == {"type": "discount_amount", "value": 5000}
    assert document["requirement"]["gross_amount"] == 50000
    assert document["requirement"]["item"] == {"items": [{"id": "COFFEE"}, {"id": "TEA"}, {"group_id": "G1"}]}
    assert document["limitation"] == {"discount_reward_usage": 2}
    # which limits the rewards of one purchase (Dintero's meaning), not a customer's uses
    shown = " ".join(re.sub(r"<[^>]+>", " ", owner.get(url("rule", account, rule_id=rule.pk)).content.decode()).split())
    assert "Rewards per purchase 2" in shown and "Uses per customer" not in shown
    # the period is whole days in the account's timezone
    assert rule.purchase_from.astimezone(account.tz).strftime("%Y-%m-%d %H:%M") == "2025-01-01 00:00"
    assert rule.type == "item"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"reward_value": "-1"}, "Enter a positive number."),
        ({"purchase_to": "2024-01-01"}, "The rule must end on or after the day it starts."),
        ({"name": ""}, "This field is required."),
        ({"min_gross": "lots"}, "Enter an amount"),
        ({"reward_type": "discount_percent", "reward_value": "150"}, "A percentage can be at most 100"),
        ({"reward_type": "discount_item_percent", "reward_value": "100,5"}, "A percentage can be at most 100"),
        ({"min_gross": "-50"}, "Enter an amount of 0 or more"),
    ],
)
def test_invalid_rules_show_errors_next_to_fields(account, owner, change, error):
    response = owner.post(url("rule-new", account), {**FORM, **change})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not DiscountRule.objects.exists()


def test_editing_prefills_and_saves_through_the_service(account, owner):
    rule = make_rule(account)
    form = owner.get(url("rule-edit", account, rule_id=rule.pk)).context["form"]
    assert form.initial["reward_value"] == 10 and form.initial["name"] == "Rule"
    response = owner.post(
        url("rule-edit", account, rule_id=rule.pk),
        {**FORM, "name": "Renamed", "purchase_from": form.initial["purchase_from"].isoformat()},
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Renamed"


def test_editing_keeps_the_limits_the_form_does_not_show(account, owner):
    # given a rule with a repeat limit and opening hours (set through the API) besides rewards per purchase
    now = timezone.now()
    hours = {"timezone": "Europe/Oslo", "hours": [{"day": "mon", "start": "18:00", "end": "21:00"}]}
    rule = rule_create(
        account=account,
        document={
            "name": "Evenings",
            "requirement": {"purchase_from": now.isoformat(), "purchase_to": (now + timedelta(days=30)).isoformat()},
            "reward": {"type": "discount_amount", "value": 2000},
            "limitation": {"discount_repeat_usage": 10, "discount_reward_usage": 3, "discount_hours": hours},
        },
        actor="test",
    )
    initial = owner.get(url("rule-edit", account, rule_id=rule.pk)).context["form"].initial
    form = {
        "name": "Evenings",
        "purchase_from": initial["purchase_from"].isoformat(),
        "purchase_to": initial["purchase_to"].isoformat(),
        "active": "on",
    }

    # when rewards per purchase is changed, then emptied
    owner.post(url("rule-edit", account, rule_id=rule.pk), {**form, "reward_usage": "2"})
    rule.refresh_from_db()
    changed = rule.document["limitation"]
    owner.post(url("rule-edit", account, rule_id=rule.pk), form)
    rule.refresh_from_db()

    # then only that limit moved: the repeat limit and the hours stay
    assert changed == {"discount_repeat_usage": 10, "discount_reward_usage": 2, "discount_hours": hours}
    assert rule.document["limitation"] == {"discount_repeat_usage": 10, "discount_hours": hours}


def test_the_edit_form_shows_reward_and_start_as_fixed_and_the_update_keeps_them(account, owner):
    # as the API's PUT: a rule's reward and start never change in an update
    rule = make_rule(account)
    page = owner.get(url("rule-edit", account, rule_id=rule.pk))
    form = page.context["form"]
    assert all(form.fields[name].disabled for name in ("reward_type", "reward_value", "purchase_from"))
    body = page.content.decode()
    assert "duplicate it with changes" in body and url("rule-duplicate", account, rule_id=rule.pk) in body

    response = owner.post(
        url("rule-edit", account, rule_id=rule.pk),
        {**FORM, "name": "Renamed", "reward_type": "discount_percent", "reward_value": "150"},
    )

    assert response.status_code == 302
    before = rule.document
    rule.refresh_from_db()
    assert rule.name == "Renamed" and rule.document["reward"] == before["reward"]
    assert rule.document["requirement"]["purchase_from"] == before["requirement"]["purchase_from"]


def test_the_rule_page_explains_the_fixed_reward_and_offers_duplicate_with_changes(account, owner):
    rule = make_rule(account)
    rule_customers_give(account=account, rule=rule, customer_ids=["C1"], offering_constraint_id=None, actor="t")
    body = owner.get(url("rule", account, rule_id=rule.pk)).content.decode()
    assert "do not change once it exists" in body and "(1 customer do)" in body
    assert "cannot be updated" not in body
    assert f'href="{url("rule-duplicate", account, rule_id=rule.pk)}"' in body


def test_duplicate_with_changes_prefills_and_creates_a_corrected_rule(account, owner):
    rule = make_rule(account, "Fifteen")
    form = owner.get(url("rule-duplicate", account, rule_id=rule.pk)).context["form"]
    assert (form.initial["name"], form.initial["reward_value"]) == ("Fifteen", 10)
    assert form.initial["deactivate_source"] and not form.fields["reward_value"].disabled

    response = owner.post(
        url("rule-duplicate", account, rule_id=rule.pk),
        {
            **FORM,
            "name": "Ten",
            "purchase_from": form.initial["purchase_from"].isoformat(),
            "reward_type": "discount_percent",
            "reward_value": "10",
            "deactivate_source": "on",
        },
    )

    created = DiscountRule.objects.exclude(pk=rule.pk).get()
    assert response.status_code == 302 and response["Location"] == url("rule", account, rule_id=created.pk)
    assert created.document["reward"] == {"type": "discount_percent", "value": 10}
    rule.refresh_from_db()
    assert not rule.active


def test_duplicate_keeps_what_the_form_does_not_show(account, owner):
    # given a rule of a campaign, with a repeat limit and opening hours (set through the API, not on the form)
    now = timezone.now()
    hours = {"timezone": "Europe/Oslo", "hours": [{"day": "mon", "start": "18:00", "end": "21:00"}]}
    rule = rule_create(
        account=account,
        document={
            "name": "Coffee -20",
            "campaign_id": "summer",
            "requirement": {"purchase_from": now.isoformat(), "purchase_to": (now + timedelta(days=30)).isoformat()},
            "reward": {"type": "discount_amount", "value": 2000},
            "limitation": {"discount_repeat_usage": 10, "discount_reward_usage": 3, "discount_hours": hours},
        },
        actor="test",
    )
    initial = owner.get(url("rule-duplicate", account, rule_id=rule.pk)).context["form"].initial

    # when it is duplicated with a new reward and without a per-customer limit
    owner.post(
        url("rule-duplicate", account, rule_id=rule.pk),
        {
            "name": "Coffee -30",
            "purchase_from": initial["purchase_from"].isoformat(),
            "purchase_to": initial["purchase_to"].isoformat(),
            "reward_type": "discount_amount",
            "reward_value": "30",
            "active": "on",
        },
    )

    # then the new rule is in the same campaign with the same hours and repeat limit; the form's fields are its own
    created = DiscountRule.objects.exclude(pk=rule.pk).get()
    assert created.document["campaign_id"] == "summer"
    assert created.document["limitation"] == {
        "discount_repeat_usage": 10,
        "discount_hours": hours,
    }
    assert created.document["reward"] == {"type": "discount_amount", "value": 3000}
    assert created.document["name"] == "Coffee -30"


def test_duplicate_with_150_percent_is_refused_next_to_the_field(account, owner):
    rule = make_rule(account)
    response = owner.post(
        url("rule-duplicate", account, rule_id=rule.pk),
        {**FORM, "reward_type": "discount_percent", "reward_value": "150", "deactivate_source": "on"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["reward_value"] == [
        "A percentage can be at most 100 (100 % makes the purchase free)."
    ]
    rule.refresh_from_db()
    assert rule.active and DiscountRule.objects.count() == 1


def test_stores_are_named_with_their_ids_on_the_rule_form(account, owner, shop):
    choices = owner.get(url("rule-new", account)).context["form"].fields["store_ids"].choices
    assert choices == [("S1", "Store S1 (S1)"), ("S2", "Store S2 (S2)")]


def test_the_list_and_a_rules_customers(account, owner, django_assert_max_num_queries):
    rule = make_rule(account, "Ten percent")
    rule_customers_give(account=account, rule=rule, customer_ids=["C1", "C2"], offering_constraint_id=None, actor="t")
    with django_assert_max_num_queries(8):
        listing = owner.get(url("rules", account))
    assert [(r.name, r.customers) for r in listing.context["rules"]] == [("Ten percent", 2)]
    detail = owner.get(url("rule", account, rule_id=rule.pk))
    assert [r.customer_id for r in detail.context["refs"]] == ["C1", "C2"]
    assert "10 % off" in detail.content.decode()


def test_another_accounts_rule_is_404(account, other_account, owner):
    rule = make_rule(other_account)
    for name in ("rule", "rule-edit", "rule-duplicate"):
        assert owner.get(url(name, account, rule_id=rule.pk)).status_code == 404


def test_viewers_cannot_create_or_edit_rules(account, viewer):
    rule = make_rule(account)
    assert viewer.post(url("rule-new", account), FORM).status_code == 403
    assert viewer.post(url("rule-edit", account, rule_id=rule.pk), FORM).status_code == 403
    assert viewer.post(url("rule-duplicate", account, rule_id=rule.pk), FORM).status_code == 403
    assert viewer.get(url("rule-duplicate", account, rule_id=rule.pk)).status_code == 302
    # a viewer who opens a form lands on the rule, told why
    landed = viewer.get(url("rule-edit", account, rule_id=rule.pk), follow=True)
    assert landed.redirect_chain[-1][0] == url("rule", account, rule_id=rule.pk)
    assert "As a viewer you can look but not change" in landed.content.decode()
    assert "Duplicate with changes</a>" not in viewer.get(url("rule", account, rule_id=rule.pk)).content.decode()
    assert "Edit" not in viewer.get(url("rule", account, rule_id=rule.pk)).content.decode().split("<main", 1)[1]


def test_a_rules_customers_link_to_them_and_name_who_gave_the_rule(account, owner, shop):
    from segments.services.segments import segment_create

    rule = make_rule(account)
    segment = segment_create(
        account=account,
        data={"name": "Coffee lovers", "parts": [{"criteria": [{"type": "transaction_count", "min": 1}]}]},
        actor="t",
    )
    rule_customers_give(
        account=account, rule=rule, customer_ids=["C1"], offering_constraint_id=None, actor=f"segment:{segment.uuid}"
    )
    rule_customers_give(
        account=account, rule=rule, customer_ids=["NOBODY"], offering_constraint_id=None, actor="user:olga"
    )
    c1 = Customer.objects.get(account=account, customer_id="C1")

    body = owner.get(url("rule", account, rule_id=rule.pk)).content.decode()

    table = body.split('id="rule-customers"', 1)[1]
    assert f'<a href="{reverse("web:customer", kwargs={"aid": account.aid, "pk": c1.pk})}">C1</a>' in table
    assert "segment “Coffee lovers”" in table and "segment:" not in table
    # a customer the account has no receipts of is named, not linked
    assert "<td>NOBODY</td>" in table and ">olga<" in table


def test_a_rules_customers_page_costs_the_same_queries_for_1_or_50_customers(account, owner, shop):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(customers: list[str]) -> int:
        rule = make_rule(account)
        rule_customers_give(
            account=account, rule=rule, customer_ids=customers, offering_constraint_id=None, actor="segment:x"
        )
        with CaptureQueriesContext(connection) as captured:
            assert owner.get(url("rule", account, rule_id=rule.pk)).status_code == 200
        return len(captured)

    assert queries(["C1"]) == queries(["C1", "C2", *[f"N{i}" for i in range(48)]])


def test_the_list_groups_a_rules_customer_count_like_every_number(account, owner):
    rule = make_rule(account, "Everyone")
    rule_customers_give(
        account=account, rule=rule, customer_ids=[f"X{n}" for n in range(1000)], offering_constraint_id=None, actor="t"
    )
    assert '<td class="num">1\u202f000</td>' in owner.get(url("rules", account)).content.decode()
