"""The account management commands."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from loyalty.accounts.models import Account, ApiClient, Membership


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
class TestCreateAccount:
    def test_creates_then_updates_idempotently(self):
        run("create_account", "T00000002", "--name", "Shop")
        run("create_account", "T00000002", "--name", "Shop AS", "--currency", "sek", "--timezone", "Europe/Stockholm")

        account = Account.objects.get(aid="T00000002")
        assert (account.name, account.currency, account.timezone) == ("Shop AS", "SEK", "Europe/Stockholm")
        assert Account.objects.count() == 1

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["X1", "--name", "n"], "T or P followed by 8 digits"),
            (["T00000003", "--name", "n", "--timezone", "Mars/Base"], "IANA"),
            (["T00000003", "--name", "n", "--currency", "kroner"], "ISO 4217"),
        ],
    )
    def test_rejects_invalid_values(self, args, message):
        with pytest.raises(CommandError, match=message):
            run("create_account", *args)
        assert not Account.objects.exists()


@pytest.mark.django_db
class TestCreateApiClient:
    def test_json_output_carries_a_working_secret(self, account):
        from django.contrib.auth.hashers import check_password

        out = run(
            "create_api_client",
            "--account",
            "T00000001",
            "--name",
            "pos",
            "--scopes",
            "admin:receipts,read:receipts",
            "--json",
        )

        payload = json.loads(out)
        client = ApiClient.objects.get(client_id=payload["client_id"])
        assert client.scopes == ["admin:receipts", "read:receipts"]
        assert check_password(payload["client_secret"], client.secret_hash)
        assert payload["client_secret"] not in client.secret_hash

    def test_unknown_scope_is_refused(self, account):
        with pytest.raises(CommandError, match="Unknown scopes: admin:everything"):
            run("create_api_client", "--account", "T00000001", "--name", "x", "--scopes", "admin:everything")

    def test_unknown_account_is_refused(self, db):
        with pytest.raises(CommandError, match="T00000009 does not exist"):
            run("create_api_client", "--account", "T00000009", "--name", "x", "--scopes", "read:receipts")


@pytest.mark.django_db
class TestCreateStaffUser:
    def test_prints_a_generated_password_that_works(self, account):
        out = run("create_staff_user", "--account", "T00000001", "--username", "dora", "--role", "viewer")
        password = out.split("password: ")[1].strip()
        user = get_user_model().objects.get(username="dora")
        assert user.check_password(password) and user.is_staff
        assert Membership.objects.get(user=user).role == "viewer"

    def test_given_password_is_used_and_not_printed(self, account):
        out = run("create_staff_user", "--account", "T00000001", "--username", "erik", "--password", "pw-Erik-123")
        assert "pw-Erik-123" not in out
        assert get_user_model().objects.get(username="erik").check_password("pw-Erik-123")
