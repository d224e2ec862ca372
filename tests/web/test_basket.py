"""The basket tester page: what a purchase gets and why not, for staff of the account only; nothing recorded."""

from __future__ import annotations

import pytest

from discounts.models import DiscountUsage
from tests.discounts.factories import discount, give, item_discount, rule

URL = "/a/T00000001/discount-rules/basket/"


def query(**overrides) -> dict:
    data = {
        "customer_id": "C1",
        "store_id": "S1",
        "purchase_at": "2026-06-01T12:00",
        "item-TOTAL_FORMS": "6",
        "item-INITIAL_FORMS": "0",
        "item-0-item_id": "chair",
        "item-0-groups": "chairs, furniture",
        "item-0-quantity": "2",
        "item-0-amount": "1000,00",
        "item-0-eligible": "on",
        "item-1-item_id": "lamp",
        "item-1-amount": "250",
        "item-1-eligible": "on",
    }
    return data | overrides


@pytest.mark.django_db
class TestBasketTester:
    def test_an_empty_form_first(self, owner, account):
        response = owner.get(URL)
        assert response.status_code == 200
        assert b'id="basket-form"' in response.content and b'id="basket-result"' not in response.content

    def test_what_applies_and_why_the_others_do_not(self, owner, account):
        chairs = rule(account, item_discount({"group_id": "chairs"}, name="Chairs -10%",
                                             reward={"type": "discount_percent", "value": 10}))  # fmt: skip
        tables = rule(account, item_discount({"group_id": "tables"}, name="Tables"))
        anonymous = rule(account, discount(name="Walk-ins"))
        give(account, chairs, "C1")
        give(account, tables, "*")
        give(account, anonymous, "/")
        response = owner.get(URL, query())
        assert response.status_code == 200
        page = response.content.decode()
        assert "Chairs -10%" in page and "100.00 NOK" in page  # 10 % of 1,000.00
        assert "Tables" in page and "The basket has none of the rule&#x27;s items" in page
        assert "<code" in page and "requirement.item.items" in page  # the API's path as a hint for integrators
        assert "Walk-ins" not in page  # given to purchases without a customer only
        assert not DiscountUsage.objects.exists()

    def test_a_purchase_without_a_customer(self, owner, account):
        give(account, rule(account, discount(name="Walk-ins", reward={"type": "discount_amount", "value": 5000})), "/")
        page = owner.get(URL, query(customer_id="")).content.decode()
        assert "Walk-ins" in page and "50.00 NOK" in page

    def test_the_store_defaults_to_the_accounts_first_known_store(self, owner, account):
        from receipts.models import ItemCode

        assert 'value="S1"' not in owner.get(URL).content.decode()  # no made-up store
        for value, name in (("S002", "Bergen"), ("S001", "Oslo City")):
            ItemCode.objects.create(account=account, kind=ItemCode.Kind.STORE, value=value, name=name)
        page = owner.get(URL).content.decode()
        assert 'name="store_id" value="S001"' in page and "Oslo City (S001)" in page and "Bergen (S002)" in page

    def test_viewers_may_ask_too(self, viewer, account):
        assert viewer.get(URL, query()).status_code == 200

    @pytest.mark.parametrize(
        ("field", "value"), [("item-0-amount", "ten"), ("purchase_at", "soon"), ("item-0-quantity", "-1")]
    )
    def test_bad_values_are_400_on_the_form(self, owner, account, field, value):
        response = owner.get(URL, query(**{field: value}))
        assert response.status_code == 400
        assert b'class="field-error"' in response.content and b'id="basket-result"' not in response.content

    def test_another_accounts_staff_and_rules_see_nothing(self, login, account, other_account):
        give(other_account, rule(other_account, name="Theirs"), "C1", "*")
        outsider = login(other_account)
        assert outsider.get(URL, query()).status_code == 404
        mine = login(account)
        assert "Theirs" not in mine.get(URL, query()).content.decode()
