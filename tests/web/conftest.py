"""Fixtures of the page tests: staff logins by role, and a small shop of receipts in each account."""

from __future__ import annotations

import pytest
from django.test import Client

from loyalty.accounts.scopes import Role
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.web.shop import ingest, receipt_doc


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
