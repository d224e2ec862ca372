"""Customers' personal data is for owners and editors; viewers see customer ids, counts, totals and dates only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty.accounts.scopes import Role
from receipts.models import Customer, Receipt
from segments.models import SegmentRun
from segments.services.segments import segment_create

pytestmark = pytest.mark.django_db

HIDDEN = "Personal data is hidden for viewers"
NAME, EMAIL, PHONE = "FirstC1", "c1@example.com", "+47900001"
BIRTHDAY, CITY, POSTAL_CODE = "1984-03-07", "Bergenhus", "N-5003"
ROLES = [Role.OWNER, Role.EDITOR, Role.VIEWER]


def url(name, account, **kwargs):
    return reverse(f"web:{name}", kwargs={"aid": account.aid, **kwargs})


@pytest.fixture
def c1(shop):
    """C1 of the shop with a full profile: name, e-mail and phone from its receipts, birthday and address here."""
    Customer.objects.filter(account=shop, customer_id="C1").update(
        date_of_birth=BIRTHDAY, cities=[CITY], postal_codes=[POSTAL_CODE]
    )
    return Customer.objects.get(account=shop, customer_id="C1")


def page_of(name, shop, c1):
    return {
        "customers": lambda: url("customers", shop),
        "customer": lambda: url("customer", shop, pk=c1.pk),
        "receipt": lambda: url("receipt", shop, pk=Receipt.objects.get(account=shop, receipt_id="R1").pk),
    }[name]()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "personal"),
    [
        ("customers", [NAME, EMAIL, PHONE]),
        ("customer", [NAME, EMAIL, PHONE, BIRTHDAY, CITY, POSTAL_CODE]),
        ("receipt", [NAME, EMAIL, PHONE]),
    ],
)
def test_personal_data_shows_to_owners_and_editors_and_hides_from_viewers(shop, c1, login, role, name, personal):
    # given a customer with a full profile and a staff user of `role`
    client = login(shop, role=role)

    # when they open a page about the customer
    response = client.get(page_of(name, shop, c1))

    # then owners and editors read the profile; viewers the customer id and a note of why the rest is missing
    body = response.content.decode()
    assert response.status_code == 200
    assert "C1" in body
    if role == Role.VIEWER:
        assert [value for value in personal if value in body] == []
        assert HIDDEN in body
    else:
        assert [value for value in personal if value not in body] == []
        assert HIDDEN not in body


@pytest.mark.parametrize(
    ("role", "q", "expected"),
    [
        (Role.VIEWER, "C1", ["C1"]),
        (Role.VIEWER, EMAIL, []),
        (Role.VIEWER, PHONE, []),
        (Role.VIEWER, NAME, []),
        (Role.EDITOR, EMAIL, ["C1"]),
        (Role.OWNER, NAME, ["C1"]),
    ],
)
def test_a_viewers_customer_search_matches_customer_ids_only(shop, login, role, q, expected):
    # given a staff user of `role`
    client = login(shop, role=role)

    # when they search the customers
    response = client.get(url("customers", shop), {"q": q})

    # then a viewer cannot learn from a search whether an e-mail, phone or name belongs to a customer
    assert [c.customer_id for c in response.context["result"].rows] == expected


@pytest.mark.parametrize(
    ("role", "q", "expected"),
    [
        (Role.VIEWER, "C1", ["R1", "R2", "R6"]),
        (Role.VIEWER, EMAIL, []),
        (Role.VIEWER, PHONE, []),
        (Role.OWNER, EMAIL, ["R1", "R2", "R6"]),
        (Role.EDITOR, PHONE, ["R1", "R2", "R6"]),
    ],
)
def test_a_viewers_receipt_search_matches_customer_ids_not_contacts(shop, login, role, q, expected):
    # given a staff user of `role`
    client = login(shop, role=role)

    # when they search the receipts by a customer
    response = client.get(url("receipts", shop), {"q": q})

    # then only owners and editors find a customer's receipts by e-mail or phone
    assert [r.receipt_id for r in response.context["result"].rows] == expected


@pytest.fixture
def calculated_segment(shop, c1):
    """A segment of C1 and C2, calculated."""
    from segments.services.runs import segment_recalculate

    segment = segment_create(
        account=shop,
        data={"name": "Buyers", "parts": [{"criteria": [{"type": "transaction_count", "min": 1}]}]},
        actor="test",
    )
    segment_recalculate(run_id=SegmentRun.objects.get(segment=segment).pk)
    segment.refresh_from_db()
    return segment


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
def test_segment_members_and_their_export_are_for_owners_and_editors(calculated_segment, shop, login, role):
    # given a calculated segment and a staff user of `role`
    client = login(shop, role=role)

    # when they open the segment, search its members by e-mail and by id, and export it
    body = client.get(url("segment", shop, segment_id=calculated_segment.uuid)).content.decode()
    by_email = client.get(url("segment", shop, segment_id=calculated_segment.uuid), {"q": EMAIL})
    by_id = client.get(url("segment", shop, segment_id=calculated_segment.uuid), {"q": "C1"})
    export = client.get(url("segment-export", shop, segment_id=calculated_segment.uuid))

    # then a viewer sees member ids only, finds members by id only, and has no export (nor its button)
    assert "C1" in body and "C2" in body
    assert [c.customer_id for c in by_id.context["members"]] == ["C1"]
    if role == Role.VIEWER:
        assert [value for value in (NAME, EMAIL, PHONE) if value in body] == []
        assert HIDDEN in body
        assert "Export CSV" not in body
        assert [c.customer_id for c in by_email.context["members"]] == []
        assert export.status_code == 403
    else:
        assert [value for value in (NAME, EMAIL, PHONE) if value not in body] == []
        assert "Export CSV" in body
        assert [c.customer_id for c in by_email.context["members"]] == ["C1"]
        assert export.status_code == 200
        assert EMAIL in b"".join(export.streaming_content).decode()


@pytest.mark.parametrize(("role", "shown"), [(Role.OWNER, EMAIL), (Role.VIEWER, "2 customers")])
def test_a_customer_list_in_a_definition_is_a_count_for_viewers(shop, login, role, shown):
    # given a segment defined by a list naming a customer by e-mail
    segment = segment_create(
        account=shop,
        data={"name": "Listed", "parts": [{"criteria": [{"type": "customer_list", "customers": [EMAIL, "C2"]}]}]},
        actor="test",
    )

    # when a staff user of `role` reads its definition
    body = login(shop, role=role).get(url("segment", shop, segment_id=segment.uuid)).content.decode()

    # then a viewer learns how many customers are listed, not who
    assert shown in body
    if role == Role.VIEWER:
        assert EMAIL not in body
