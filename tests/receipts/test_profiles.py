"""A customer's profile is the customer object of their most recent receipt that has one: after a receipt changes
customer, both customers' profiles are derived again from the receipts each has."""

from datetime import UTC, datetime

import pytest

from receipts.models import Customer
from tests.receipts.factories import receipt

BASE = "/v1/accounts/T00000001/receipts"


def person(email, first_name, **extra):
    return {"email": email, "first_name": first_name, "last_name": "Nordmann", **extra}


def profile_of(account, customer_id):
    c = Customer.objects.get(account=account, customer_id=customer_id)
    return {
        "email": c.email,
        "first_name": c.first_name,
        "phone": c.phone,
        "cities": c.cities,
        "date_of_birth": c.date_of_birth,
        "email_consent": c.email_consent,
        "profile": c.profile,
        "profile_at": c.profile_at,
    }


def move(api, source, receipt_id, target):
    response = api.post(
        f"{BASE}/customers/{source}/{receipt_id}/change_customer_id", {"customer_id": target}, format="json"
    )
    assert response.status_code == 200, response.content


OLDER = datetime(2024, 1, 1, 12, tzinfo=UTC)
NEWER = datetime(2024, 6, 1, 12, tzinfo=UTC)
A1 = person(
    "a1@example.com",
    "Anne",
    phone_number="+4711111111",
    date_of_birth="1980-02-03",
    addresses=[{"address_line": "Gata 1", "postal_place": "Oslo", "country": "NO"}],
    marketing_consent={"email": {"consent": True}},
)
A2 = person("a2@example.com", "Annie", phone_number="+4722222222")


@pytest.mark.django_db
class TestProfilesFollowTheReceipts:
    def test_moving_the_newest_receipt_gives_each_customer_the_profile_of_their_own_receipts(self, api, account):
        response = api.post(
            BASE,
            [
                receipt(customer_id="A", receipt_id="R1", purchase_at=OLDER, customer=A1),
                receipt(customer_id="A", receipt_id="R2", purchase_at=NEWER, customer=A2),
            ],
            format="json",
        )
        assert response.status_code == 200, response.content
        assert profile_of(account, "A")["email"] == "a2@example.com"

        move(api, "A", "R2", "B")

        a, b = profile_of(account, "A"), profile_of(account, "B")
        assert a == {
            "email": "a1@example.com",
            "first_name": "Anne",
            "phone": "+4711111111",
            "cities": ["oslo"],
            "date_of_birth": datetime(1980, 2, 3).date(),
            "email_consent": True,
            "profile": A1,
            "profile_at": OLDER,
        }
        assert (b["email"], b["first_name"], b["phone"], b["profile"], b["profile_at"]) == (
            "a2@example.com",
            "Annie",
            "+4722222222",
            A2,
            NEWER,
        )

    def test_a_customer_left_without_receipts_has_an_empty_profile(self, api, account):
        api.post(BASE, [receipt(customer_id="A", receipt_id="R1", purchase_at=OLDER, customer=A1)], format="json")

        move(api, "A", "R1", "C")

        assert profile_of(account, "A") == {
            "email": "",
            "first_name": "",
            "phone": "",
            "cities": [],
            "date_of_birth": None,
            "email_consent": None,
            "profile": {},
            "profile_at": None,
        }
        assert profile_of(account, "C")["email"] == "a1@example.com"

    def test_a_receipt_moved_in_that_is_older_leaves_the_newer_profile(self, api, account):
        api.post(
            BASE,
            [
                receipt(customer_id="A", receipt_id="R1", purchase_at=OLDER, customer=A1),
                receipt(customer_id="B", receipt_id="R2", purchase_at=NEWER, customer=A2),
            ],
            format="json",
        )

        move(api, "A", "R1", "B")

        assert profile_of(account, "B")["email"] == "a2@example.com"
        assert profile_of(account, "A")["profile"] == {}
