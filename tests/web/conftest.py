"""Fixtures of the page tests: staff logins by role, and a small shop of receipts in each account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from loyalty.accounts.scopes import Role
from tests.accounts.factories import MembershipFactory, UserFactory

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def login(db):
    """A signed-in browser client for a new staff user with `role` in each of `accounts`."""

    def _login(*accounts, role: str = Role.OWNER, username: str | None = None) -> Client:
        user = UserFactory(**({"username": username} if username else {}))
        for account in accounts:
            MembershipFactory(user=user, account=account, role=role)
        client = Client()
        client.force_login(user)
        client.user = user
        return client

    return _login


@pytest.fixture
def owner(login, account):
    return login(account, role=Role.OWNER, username="olga")


@pytest.fixture
def viewer(login, account):
    return login(account, role=Role.VIEWER, username="vera")


def receipt_doc(
    n: int, *, store: str = "S1", customer: str | None = "C1", gross: int = 10000, days_ago: int = 1, **extra
):
    at = NOW - timedelta(days=days_ago, minutes=n)
    document = {
        "store": {"id": store, "name": f"Store {store}"},
        "receipt_id": f"R{n}",
        "purchase_at": at.isoformat().replace("+00:00", "Z"),
        "currency": "NOK",
        "gross_amount": gross,
        "net_amount": gross - 2000,
        "entry_status": "Concluded",
        "items": [
            {
                "line_id": 1,
                "id": "COFFEE",
                "description": "Coffee beans",
                "quantity": 2,
                "unit_gross_price": gross // 2,
                "gross_amount": gross,
                "net_amount": gross - 2000,
                "groups": [{"id": "G1", "name": "Coffee"}],
                "discount_lines": [{"amount": 500, "description": "Member price", "line_id": 1}],
            }
        ],
        "payments": [{"line_id": 1, "amount": gross, "type_id": "card"}],
        "tax_lines": [{"amount": 2000, "percentage": 25, "tax_basis": gross - 2000}],
        **extra,
    }
    if customer:
        document["customer_id"] = customer
        document["customer"] = {
            "customer_id": customer,
            "first_name": f"First{customer}",
            "last_name": "Person",
            "email": f"{customer.lower()}@example.com",
            "phone_number": f"+4790000{customer[-1]}",
        }
    return document


def ingest(account, documents):
    from receipts.services.ingest import receipt_ingest

    return receipt_ingest(account=account, documents=documents, created_by="test")


@pytest.fixture
def shop(account, other_account):
    """Account T00000001: 6 receipts (stores S1/S2, customers C1/C2 and one anonymous); the other account has
    one receipt of its own customer."""
    ingest(
        account,
        [
            receipt_doc(1, store="S1", customer="C1", gross=10000, days_ago=1),
            receipt_doc(2, store="S2", customer="C1", gross=25000, days_ago=2),
            receipt_doc(3, store="S1", customer="C2", gross=5000, days_ago=3),
            receipt_doc(4, store="S2", customer="C2", gross=70000, days_ago=40),
            receipt_doc(5, store="S1", customer=None, gross=1990, days_ago=5),
            receipt_doc(6, store="S1", customer="C1", gross=3000, days_ago=6, entry_status="Voided"),
        ],
    )
    ingest(other_account, [receipt_doc(99, store="X9", customer="C99", gross=99900)])
    return account
