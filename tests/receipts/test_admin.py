"""Receipts and customers in the admin: only the staff user's accounts, read-only."""

import pytest
from django.urls import reverse

from loyalty.accounts.services import staff_user_upsert
from receipts.models import Customer, Receipt
from tests.receipts.factories import receipt


@pytest.fixture
def two_accounts_data(account, other_account, api_for):
    for acc, rid in ((account, "MINE"), (other_account, "THEIRS")):
        response = api_for(acc).post(
            f"/v1/accounts/{acc.aid}/receipts", [receipt(receipt_id=rid, customer_id=f"cust-{rid}")], format="json"
        )
        assert response.status_code == 200
    return Receipt.objects.get(receipt_id="MINE"), Receipt.objects.get(receipt_id="THEIRS")


@pytest.fixture
def staff_client(client, account):
    user, _ = staff_user_upsert(account=account, username="ann", role="viewer", password="pw-Ann-12345")
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["receipt", "customer"])
def test_lists_show_only_the_users_accounts(staff_client, two_accounts_data, model):
    response = staff_client.get(reverse(f"admin:receipts_{model}_changelist"))
    assert response.status_code == 200
    assert b"MINE" in response.content
    assert b"THEIRS" not in response.content


@pytest.mark.django_db
def test_another_accounts_objects_are_404(staff_client, two_accounts_data):
    mine, theirs = two_accounts_data
    assert staff_client.get(reverse("admin:receipts_receipt_change", args=[mine.pk])).status_code == 200
    assert staff_client.get(reverse("admin:receipts_receipt_change", args=[theirs.pk])).status_code == 404
    other_customer = Customer.objects.get(customer_id="cust-THEIRS")
    assert staff_client.get(reverse("admin:receipts_customer_change", args=[other_customer.pk])).status_code == 404


@pytest.mark.django_db
def test_receipts_cannot_be_changed_in_the_admin(staff_client, two_accounts_data):
    mine, _ = two_accounts_data
    response = staff_client.post(reverse("admin:receipts_receipt_delete", args=[mine.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Receipt.objects.filter(pk=mine.pk).exists()
