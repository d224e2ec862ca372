"""The admin of rules and refs: scoped to the user's accounts, writes through the services."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from discounts import services
from discounts.models import DiscountRef, DiscountRule
from loyalty.accounts.scopes import Role
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.discounts.factories import ACTOR, discount, give, item_discount, rule


@pytest.fixture
def signed_in(db, account):
    def _sign_in(role: str) -> Client:
        membership = MembershipFactory(user=UserFactory(username=role), account=account, role=role)
        client = Client()
        client.force_login(membership.user)
        return client

    return _sign_in


def change_url(obj) -> str:
    return reverse(f"admin:discounts_{obj._meta.model_name}_change", args=[obj.pk])


def edit(client: Client, target: DiscountRule, document: dict, **fields: str):
    data = {"document": json.dumps(document), "give_customers": "", "offering_constraint_id": "", "take_customers": ""}
    return client.post(change_url(target), {**data, **fields, "_save": "Save"})


@pytest.mark.django_db
class TestScoping:
    def test_lists_only_the_users_accounts(self, signed_in, account, other_account):
        rule(account, name="ours")
        give(other_account, rule(other_account, name="theirs"), "their-customer")
        give(account, rule(account, name="given"), "our-customer")
        client = signed_in(Role.VIEWER)

        rules = client.get(reverse("admin:discounts_discountrule_changelist")).content.decode()
        refs = client.get(reverse("admin:discounts_discountref_changelist")).content.decode()

        assert "ours" in rules and "theirs" not in rules
        assert "our-customer" in refs and "their-customer" not in refs

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
    def test_another_accounts_rule_and_ref_are_404(self, signed_in, other_account, role):
        foreign = rule(other_account, name="theirs")
        give(other_account, foreign, "c1")
        client = signed_in(role)

        for obj in (foreign, DiscountRef.objects.get()):
            assert client.get(change_url(obj)).status_code == 404
        assert edit(client, foreign, discount(name="mine now")).status_code == 404
        assert DiscountRule.objects.get(pk=foreign.pk).name == "theirs"

    def test_a_viewer_reads_but_cannot_change_or_delete(self, signed_in, account):
        target = rule(account, name="Sommer")
        client = signed_in(Role.VIEWER)

        page = client.get(change_url(target))
        response = edit(client, target, discount(name="changed"), give_customers="c1")
        delete = client.post(reverse("admin:discounts_discountrule_delete", args=[target.pk]), {"post": "yes"})

        assert page.status_code == 200 and "Sommer" in page.content.decode()
        assert 'name="_save"' not in page.content.decode()
        assert (response.status_code, delete.status_code) == (403, 403)
        stored = DiscountRule.objects.get(pk=target.pk)
        assert (stored.name, stored.deleted_at) == ("Sommer", None)
        assert not DiscountRef.objects.exists()

    def test_a_rules_page_links_to_its_live_refs(self, signed_in, account):
        target, other = rule(account, name="target"), rule(account, name="other")
        give(account, target, "cust-kept", "cust-gone")
        give(account, other, "cust-elsewhere")
        services.rule_customers_take(account=account, rule=target, customer_ids=["cust-gone"], actor=ACTOR)
        client = signed_in(Role.VIEWER)

        page = client.get(change_url(target)).content.decode()
        link = re.search(r'href="([^"]*discountref/[^"]*)">1 customer refs<', page)
        listed = client.get(link.group(1).replace("&amp;", "&")).content.decode()
        rules = client.get(reverse("admin:discounts_discountrule_changelist") + "?deleted=no").content.decode()

        assert "cust-kept" in listed and "cust-gone" not in listed and "cust-elsewhere" not in listed
        assert "target" in rules

    def test_cannot_add_a_rule_to_another_account(self, signed_in, other_account):
        client = signed_in(Role.EDITOR)

        response = client.post(
            reverse("admin:discounts_discountrule_add"),
            {"account": other_account.pk, "document": json.dumps(discount()), "_save": "Save"},
        )

        assert response.status_code == 200  # the form again, with the account refused
        assert "Select a valid choice" in response.content.decode()
        assert not DiscountRule.objects.exists()


@pytest.mark.django_db
class TestEditing:
    def test_add_a_rule_and_give_it_to_customers(self, signed_in, account):
        client = signed_in(Role.EDITOR)

        response = client.post(
            reverse("admin:discounts_discountrule_add"),
            {
                "account": account.pk,
                "document": json.dumps(item_discount({"id": "sku-1"}, name="Admin rule", vendor={"x": 1})),
                "give_customers": "c1\n c2 \n\n*",
                "offering_constraint_id": "",
                "_save": "Save",
            },
        )

        assert response.status_code == 302, response.content.decode()[:2000]
        created = DiscountRule.objects.get()
        assert (created.account, created.name, created.type, created.created_by) == (
            account,
            "Admin rule",
            "item",
            "user:editor",
        )
        assert created.document["vendor"] == {"x": 1}
        refs = DiscountRef.objects.filter(rule=created).order_by("id")
        assert [(r.customer_id, r.created_by) for r in refs] == [
            ("c1", "user:editor"),
            ("c2", "user:editor"),
            ("*", "user:editor"),
        ]

    def test_edit_the_document_and_give_and_take_customers(self, signed_in, account):
        target = rule(account, discount(description="old", metadata={"a": 1}))
        give(account, target, "c1", "c2")
        client = signed_in(Role.EDITOR)
        document = {**target.document, "description": "new"}
        del document["metadata"]  # the admin edits the whole document: a key left out is removed

        response = edit(client, target, document, give_customers="c3", take_customers="c1")

        assert response.status_code == 302, response.content.decode()[:2000]
        stored = DiscountRule.objects.get(pk=target.pk)
        assert stored.document == document
        assert stored.updated_by == "user:editor"
        live = DiscountRef.objects.filter(rule=target, deleted_at__isnull=True).values_list("customer_id", flat=True)
        assert sorted(live) == ["c2", "c3"]

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (lambda d: d["reward"].update(value=0), "reward.value must be at least 1"),
            (lambda d: d["reward"].update(value=5), "reward cannot change once the rule has been given"),
            (lambda d: d["requirement"].update(purchase_to="2030-01-01T00:00:00Z"), "can only move later"),
        ],
    )
    def test_the_api_rules_apply(self, signed_in, account, change, message):
        target = rule(account)
        give(account, target, "c1")
        client = signed_in(Role.EDITOR)
        document = json.loads(json.dumps(target.document))
        change(document)

        response = edit(client, target, document)

        assert response.status_code == 200
        assert message in response.content.decode()
        assert DiscountRule.objects.get(pk=target.pk).document == target.document

    def test_invalid_customer_ids_are_refused(self, signed_in, account):
        target = rule(account)
        client = signed_in(Role.EDITOR)

        response = edit(client, target, target.document, give_customers="x" * 256)

        assert response.status_code == 200
        assert "must be at most 255 characters" in response.content.decode()
        assert not DiscountRef.objects.exists()

    def test_delete_is_soft(self, signed_in, account):
        target = rule(account)
        give(account, target, "c1")
        client = signed_in(Role.EDITOR)

        confirm = client.get(reverse("admin:discounts_discountrule_delete", args=[target.pk]))
        response = client.post(reverse("admin:discounts_discountrule_delete", args=[target.pk]), {"post": "yes"})

        assert confirm.status_code == 200 and response.status_code == 302
        stored = DiscountRule.objects.get(pk=target.pk)
        assert stored.deleted_by == "user:editor"
        assert DiscountRef.objects.filter(rule=target, deleted_at__isnull=True).count() == 1

    @pytest.mark.parametrize(("role", "taken"), [(Role.EDITOR, 2), (Role.VIEWER, 0)])
    def test_take_refs_back_from_the_refs_list(self, signed_in, account, role, taken):
        target = rule(account)
        give(account, target, "c1", "c2", "c3")
        chosen = DiscountRef.objects.filter(customer_id__in=["c1", "c2"]).values_list("pk", flat=True)
        client = signed_in(role)

        client.post(
            reverse("admin:discounts_discountref_changelist"),
            {"action": "take", "_selected_action": [str(pk) for pk in chosen]},
        )

        assert DiscountRef.objects.filter(deleted_at__isnull=False).count() == taken
