"""The services the API and the segment push use: rules (create, update rules, delete) and giving/taking refs."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from discounts import services
from discounts.models import DiscountRef, DiscountRule
from discounts.selectors import RuleNotFound
from tests.discounts.factories import ACTOR, discount, give, item_discount, rule


def live_customers(given: DiscountRule) -> list[str]:
    return sorted(DiscountRef.objects.filter(rule=given, deleted_at__isnull=True).values_list("customer_id", flat=True))


@pytest.mark.django_db
class TestRuleCreate:
    def test_stores_the_document_as_sent_and_extracts_the_columns(self, account):
        # given a document with a property the spec does not know
        document = discount(name="Vår", private=True, campaign_id="spring", vendor_field={"x": [1, None]})
        document["visible_from"] = "2023-12-01T00:00:00+01:00"

        # when
        created = rule(account, document)

        # then
        stored = DiscountRule.objects.get(pk=created.pk)
        assert stored.document == document
        assert (stored.name, stored.active, stored.private, stored.campaign_id) == ("Vår", True, True, "spring")
        assert stored.purchase_from.isoformat() == "2024-01-01T00:00:00+00:00"
        assert stored.visible_from.isoformat() == "2023-11-30T23:00:00+00:00"
        assert (stored.created_by, stored.updated_by, stored.deleted_at) == (ACTOR, ACTOR, None)
        assert stored.id.version == 7

    def test_the_servers_fields_are_not_stored(self, account):
        created = rule(account, discount(id="mine", created_by="me", type="item", statistics={"usage": 9}))

        assert not {"id", "created_by", "type", "statistics"} & set(created.document)
        assert created.type == "receipt" and created.created_by == ACTOR

    @pytest.mark.parametrize(
        ("item", "expected"),
        [
            (None, "receipt"),
            ({"items": [{"id": "*"}]}, "receipt"),
            ({"items": [{"group_id": "*"}, {"id": "*"}]}, "receipt"),
            ({"items": [{"id": "sku-1"}]}, "item"),
            ({"items": [{"id": "*", "group_id": "g1"}]}, "item"),
            ({"items": [{"id": "ANY_ITEM"}]}, "item"),
            ({"quantity": 2}, "receipt"),
            ({"mixes": [{"quantity": 1, "reward_eligible": True, "items": [{"group_id": "g4"}]}]}, "item"),
            ({"mixes": [{"quantity": 1, "reward_eligible": True}]}, "receipt"),
        ],
    )
    def test_type_follows_requirement_item(self, account, item, expected):
        document = discount()
        if item is not None:
            document["requirement"]["item"] = item

        assert rule(account, document).type == expected

    def test_an_invalid_document_stores_nothing_and_lists_every_problem(self, account):
        document = discount(reward={"type": "free_lunch", "value": 0}, active="yes")
        del document["requirement"]["purchase_to"]

        with pytest.raises(services.DiscountValidationError) as caught:
            rule(account, document)

        assert sorted(caught.value.errors) == [
            ("active", "must be of type boolean, not string"),
            ("requirement.purchase_to", "is required"),
            ("reward.type", "must be one of: " + ", ".join(_reward_types())),
            ("reward.value", "must be at least 1"),
        ]
        assert not DiscountRule.objects.exists()


def _reward_types() -> list[str]:
    from discounts.documents import spec

    return spec()["definitions"]["Reward"]["properties"]["type"]["enum"]


@pytest.mark.django_db
class TestRuleUpdate:
    def update(self, account, target, **changes):
        return services.rule_update(account=account, rule=target, changes=changes, actor="editor")

    def test_properties_sent_replace_and_the_rest_stays(self, account):
        target = rule(account, discount(description="old", metadata={"a": 1, "b": 2}))

        updated = self.update(account, target, metadata={"c": 3}, active=False, extra={"kept": True})

        assert updated.document["metadata"] == {"c": 3}
        assert updated.document["description"] == "old"
        assert updated.document["extra"] == {"kept": True}
        assert (updated.active, updated.updated_by, updated.created_by) == (False, "editor", ACTOR)
        assert updated.updated_at > target.updated_at

    def test_requirement_and_reward_merge_one_level(self, account):
        target = rule(account, item_discount({"id": "a"}, reward={"type": "discount_percent", "value": 10}))

        updated = self.update(
            account, target, requirement={"purchase_to": "2100-01-01T00:00:00Z"}, reward={"base": "net"}
        )

        assert updated.document["requirement"] == {
            "purchase_from": "2024-01-01T00:00:00Z",
            "purchase_to": "2100-01-01T00:00:00Z",
            "item": {"items": [{"id": "a"}]},
        }
        assert updated.document["reward"] == {"type": "discount_percent", "value": 10, "base": "net"}
        assert updated.type == "item"

    def test_null_campaign_id_takes_the_rule_out_of_its_campaign(self, account):
        target = rule(account, discount(campaign_id="spring"))

        updated = self.update(account, target, campaign_id=None)

        assert "campaign_id" not in updated.document and updated.campaign_id is None

    @pytest.mark.parametrize(
        ("purchase_to", "allowed"),
        [("2100-01-01T00:00:00Z", True), ("2099-01-01T01:00:00+01:00", True), ("2098-12-31T23:59:59Z", False)],
    )
    def test_purchase_to_only_moves_later(self, account, purchase_to, allowed):
        target = rule(account)

        if allowed:
            assert self.update(account, target, requirement={"purchase_to": purchase_to}).purchase_to
        else:
            with pytest.raises(services.RuleUpdateError, match=rf"Discount rule \"Spar 100,-\" \({target.id}\)"):
                self.update(account, target, requirement={"purchase_to": purchase_to})

    @pytest.mark.parametrize(
        "changes",
        [
            {"requirement": {"purchase_from": "2024-02-01T00:00:00Z"}},
            {"reward": {"value": 5000}},
            # (with a value a percentage can have: 10,000 % is refused on its own)
            {"reward": {"type": "discount_percent", "value": 10}},
        ],
    )
    def test_purchase_from_and_reward_change_until_the_rule_is_given(self, account, changes):
        # given a rule given to someone and a rule given to no one
        given, fresh = rule(account), rule(account)
        give(account, given, "c1")

        # then the fresh one changes
        self.update(account, fresh, **changes)
        # and the given one refuses, naming the rule
        with pytest.raises(services.RuleUpdateError, match=str(given.id)) as caught:
            self.update(account, given, **changes)
        assert caught.value.errors[0][1].startswith("cannot change once the rule has been given")
        assert DiscountRule.objects.get(pk=given.pk).document == given.document

    def test_stays_frozen_after_it_is_taken_back(self, account):
        given = rule(account)
        give(account, given, "c1")
        services.rule_customers_take(account=account, rule=given, customer_ids=None, actor=ACTOR)

        with pytest.raises(services.RuleUpdateError):
            self.update(account, given, reward={"value": 1})

    def test_reward_base_changes_after_the_rule_is_given(self, account):
        given = rule(account)
        give(account, given, "*")

        assert self.update(account, given, reward={"base": "net"}).document["reward"]["base"] == "net"

    def test_type_is_read_only(self, account):
        target = rule(account)

        assert self.update(account, target, type="receipt").type == "receipt"  # unchanged: accepted
        with pytest.raises(services.RuleUpdateError, match="type is read-only"):
            self.update(account, target, type="item")

    def test_the_result_must_still_be_a_valid_discount(self, account):
        target = rule(account)

        with pytest.raises(services.DiscountValidationError) as caught:
            self.update(account, target, reward={"value": 0}, metadata={str(n): n for n in range(11)})

        assert sorted(caught.value.errors) == [
            ("metadata", "must have at most 10 properties"),
            ("reward.value", "must be at least 1"),
        ]

    def test_a_deleted_rule_is_not_found(self, account):
        target = rule(account)
        services.rule_delete(account=account, rule=target, actor=ACTOR)

        with pytest.raises(RuleNotFound):
            self.update(account, target, name="x")


@pytest.mark.django_db
class TestGive:
    def test_returns_how_many_refs_were_added_and_is_idempotent(self, account):
        target = rule(account)

        assert give(account, target, "c1", "c2", "c2", "c3") == 3
        assert give(account, target, "c3", "c4") == 1
        assert live_customers(target) == ["c1", "c2", "c3", "c4"]

    def test_reserved_customers_are_refs_like_any_other(self, account):
        target = rule(account)

        assert give(account, target, "*", "/") == 2
        assert give(account, target, "*") == 0
        assert live_customers(target) == ["*", "/"]

    def test_an_offering_constraint_gives_once_per_constraint(self, account):
        target = rule(account)

        assert give(account, target, "c1", constraint="stamp-2020") == 1
        assert give(account, target, "c1", constraint="stamp-2020") == 0
        assert give(account, target, "c1", constraint="stamp-2021") == 1
        assert DiscountRef.objects.filter(rule=target, customer_id="c1").count() == 2

    def test_without_a_constraint_a_customer_holding_any_live_ref_gets_none(self, account):
        target = rule(account)
        give(account, target, "c1", constraint="stamp-2020")

        assert give(account, target, "c1", "c2") == 1
        assert give(account, target, "c1", "c2") == 0
        assert sorted(DiscountRef.objects.filter(rule=target).values_list("customer_id", flat=True)) == [
            "c1",
            "c2",
        ]

    def test_a_customer_taken_back_can_be_given_the_rule_again(self, account):
        target = rule(account)
        give(account, target, "c1")
        services.rule_customers_take(account=account, rule=target, customer_ids=["c1"], actor=ACTOR)

        assert give(account, target, "c1") == 1
        assert DiscountRef.objects.filter(rule=target, customer_id="c1").count() == 2

    @pytest.mark.parametrize(
        ("customers", "constraint", "error"),
        [
            ([" c1"], None, ("customers[0]", "must not have leading or trailing spaces")),
            (["c1", "c2 "], None, ("customers[1]", "must not have leading or trailing spaces")),
            ([""], None, ("customers[0]", "must not be empty")),
            (["x" * 256], None, ("customers[0]", "must be at most 255 characters")),
            ([7], None, ("customers[0]", "must be a string")),
            (["c1"], "", ("offering_constraint_id", "must not be empty (leave it out for no constraint)")),
        ],
    )
    def test_invalid_ids_give_nothing(self, account, customers, constraint, error):
        target = rule(account)

        with pytest.raises(services.DiscountValidationError) as caught:
            services.rule_customers_give(
                account=account, rule=target, customer_ids=customers, offering_constraint_id=constraint, actor=ACTOR
            )

        assert caught.value.errors == [error]
        assert not DiscountRef.objects.exists()

    def test_refs_record_who_gave_them_in_the_rules_account(self, account):
        target = rule(account)
        give(account, target, "c1")

        ref = DiscountRef.objects.get()
        assert (ref.account_id, ref.created_by, ref.id.version) == (account.pk, ACTOR, 7)

    def test_another_accounts_rule_or_a_deleted_rule_is_not_found(self, account, other_account):
        foreign, deleted = rule(other_account), rule(account)
        services.rule_delete(account=account, rule=deleted, actor=ACTOR)

        for target in (foreign, deleted):
            with pytest.raises(RuleNotFound):
                give(account, target, "c1")
        assert not DiscountRef.objects.exists()

    def test_the_database_refuses_a_second_live_ref_for_the_same_constraint(self, account):
        target = rule(account)
        give(account, target, "c1")

        with pytest.raises(IntegrityError), transaction.atomic():
            DiscountRef.objects.create(account=account, rule=target, customer_id="c1")


@pytest.mark.django_db
class TestTake:
    def test_takes_every_live_ref_of_the_customers_named(self, account):
        target = rule(account)
        give(account, target, "c1", "c2", "c3")
        give(account, target, "c1", constraint="k")

        taken = services.rule_customers_take(account=account, rule=target, customer_ids=["c1", "c2", "x"], actor="t")

        assert taken == 3
        assert live_customers(target) == ["c3"]
        assert set(DiscountRef.objects.filter(deleted_at__isnull=False).values_list("deleted_by", flat=True)) == {"t"}

    def test_none_takes_it_from_everyone_and_star_only_from_star(self, account):
        target = rule(account)
        give(account, target, "c1", "*", "/")

        assert services.rule_customers_take(account=account, rule=target, customer_ids=["*"], actor=ACTOR) == 1
        assert live_customers(target) == ["/", "c1"]
        assert services.rule_customers_take(account=account, rule=target, customer_ids=None, actor=ACTOR) == 2
        assert live_customers(target) == []

    def test_only_the_rules_own_refs_are_taken(self, account):
        target, other = rule(account), rule(account)
        give(account, target, "c1")
        give(account, other, "c1")

        services.rule_customers_take(account=account, rule=target, customer_ids=None, actor=ACTOR)

        assert live_customers(other) == ["c1"]


@pytest.mark.django_db
def test_delete_is_soft_and_keeps_the_refs(account):
    target = rule(account)
    give(account, target, "c1")

    deleted = services.rule_delete(account=account, rule=target, actor="remover")

    assert (deleted.deleted_by, deleted.updated_by) == ("remover", "remover")
    assert DiscountRule.objects.get(pk=target.pk).deleted_at == deleted.deleted_at
    assert live_customers(target) == ["c1"]
    with pytest.raises(RuleNotFound):
        services.rule_delete(account=account, rule=target, actor="remover")
