"""`user:*` scopes belong to one customer: customer tokens minted by a trusted client, bound to their customer."""

import base64
import importlib

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from loyalty.accounts import tokens
from loyalty.accounts.admin import ApiClientAddForm
from loyalty.accounts.models import ApiClient
from loyalty.accounts.scopes import SCOPES
from loyalty.accounts.services import api_client_create, api_client_revoke
from loyalty.api.principal import Principal
from loyalty.core.errors import DomainError, Forbidden
from tests.accounts.routes import ROUTES, call_route, scope_groups_of

pytestmark = pytest.mark.django_db

MINT = "/v1/accounts/T00000001/auth/customer-token"
RECEIPTS = "/v1/accounts/T00000001/receipts/customers/{}"
RULES = "/v1/accounts/T00000001/discounts/customers/{}/rules"
USER_SCOPES = ["user:receipts", "user:discounts"]


def bearer(token: str, **extra) -> APIClient:
    client = APIClient(**extra)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def mint(token: str, body: dict, **extra):
    return bearer(token, **extra).post(MINT, body, format="json")


@pytest.fixture
def trusted(account, make_client_token):
    return make_client_token(account, ["admin:receipts", "admin:discounts"])


def customer_token(trusted: str, customer_id: str = "C-1", scopes: list[str] | None = None) -> str:
    response = mint(trusted, {"customer_id": customer_id, "scopes": scopes or USER_SCOPES})
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


class TestMint:
    def test_a_trusted_client_mints_a_short_lived_token_for_one_customer(self, trusted):
        response = mint(trusted, {"customer_id": "C-1", "scopes": USER_SCOPES})

        assert response.status_code == 200
        body = response.json()
        assert body.keys() == {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "Bearer" and body["expires_in"] == 900
        claims = tokens.decode(body["access_token"])
        assert claims["typ"] == "customer" and claims["customer_id"] == "C-1"
        assert sorted(claims["scopes"]) == sorted(USER_SCOPES)
        assert claims["exp"] - claims["iat"] == 900

    def test_expires_in_is_honoured(self, trusted):
        response = mint(trusted, {"customer_id": "C-1", "scopes": ["user:receipts"], "expires_in": 60})
        assert response.status_code == 200 and response.json()["expires_in"] == 60
        claims = tokens.decode(response.json()["access_token"])
        assert claims["exp"] - claims["iat"] == 60 and claims["scopes"] == ["user:receipts"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"customer_id": "C-1", "scopes": USER_SCOPES, "expires_in": 59}, "expires_in"),
            ({"customer_id": "C-1", "scopes": USER_SCOPES, "expires_in": 3601}, "expires_in"),
            ({"customer_id": "C-1", "scopes": USER_SCOPES, "expires_in": "soon"}, "expires_in"),
            ({"customer_id": "C-1", "scopes": USER_SCOPES, "expires_in": 1.5}, "expires_in"),
            ({"scopes": USER_SCOPES}, "customer_id"),
            ({"customer_id": "", "scopes": USER_SCOPES}, "customer_id"),
            ({"customer_id": "x" * 256, "scopes": USER_SCOPES}, "customer_id"),
            ({"customer_id": "C-1"}, "scopes"),
            ({"customer_id": "C-1", "scopes": []}, "scopes"),
            ({"customer_id": "C-1", "scopes": ["admin:receipts"]}, "scopes"),
            ({"customer_id": "C-1", "scopes": "user:receipts"}, "scopes"),
        ],
    )
    def test_bad_input_is_400_naming_the_field(self, trusted, body, field):
        response = mint(trusted, body)
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
        paths = {e["path"] for e in error["errors"]}
        assert any(p == field or p.startswith((f"{field}.", f"{field}[")) for p in paths), paths

    @pytest.mark.parametrize(
        ("held", "asked", "missing"),
        [
            (["admin:receipts"], ["user:discounts"], "admin:discounts"),
            (["admin:discounts"], ["user:receipts", "user:discounts"], "admin:receipts"),
            (["read:receipts", "read:discounts", "write:receipts"], ["user:receipts"], "admin:receipts"),
        ],
    )
    def test_each_user_scope_needs_its_admin_scope(self, account, make_client_token, held, asked, missing):
        response = mint(make_client_token(account, held), {"customer_id": "C-1", "scopes": asked})
        assert response.status_code == 403
        assert missing in response.json()["error"]["message"]

    def test_staff_tokens_do_not_mint(self, account):
        from loyalty.accounts.services import staff_user_upsert

        user, _ = staff_user_upsert(account=account, username="olga", role="owner", password="pw-Olga-12345")
        token, _ = tokens.staff_access_token(user_id=user.pk, username=user.username)
        response = mint(token, {"customer_id": "C-1", "scopes": USER_SCOPES})
        assert response.status_code == 403
        assert "API clients" in response.json()["error"]["message"]

    def test_a_customer_token_cannot_mint(self, trusted):
        assert mint(customer_token(trusted), {"customer_id": "C-2", "scopes": USER_SCOPES}).status_code == 403

    def test_tokens_do_not_depend_on_the_host_name_they_were_minted_through(self, account):
        client, secret = api_client_create(account=account, name="pos", scopes=["admin:receipts"])
        basic = "Basic " + base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
        response = APIClient(HTTP_HOST="localhost").post(
            "/v1/accounts/T00000001/auth/token",
            {"grant_type": "client_credentials", "audience": "http://localhost/v1/accounts/T00000001"},
            format="json",
            HTTP_AUTHORIZATION=basic,
        )
        assert response.status_code == 200, response.content
        client_token = response.json()["access_token"]

        minted = mint(client_token, {"customer_id": "C-1", "scopes": ["user:receipts"]}, HTTP_HOST="127.0.0.1")
        assert minted.status_code == 200, minted.content

        assert bearer(client_token).get(RECEIPTS.format("C-1")).status_code == 200
        assert bearer(minted.json()["access_token"]).get(RECEIPTS.format("C-1")).status_code == 200


class TestCustomerTokenUse:
    def test_its_own_receipts_and_rules_are_200(self, trusted):
        token = customer_token(trusted, "C-1")
        assert bearer(token).get(RECEIPTS.format("C-1")).status_code == 200
        assert bearer(token).get(RULES.format("C-1")).status_code == 200

    def test_another_customers_receipts_and_rules_are_403(self, trusted):
        token = customer_token(trusted, "C-1")
        for url in (RECEIPTS.format("C-2"), RULES.format("C-2"), RECEIPTS.format("C-2") + "/R-1"):
            response = bearer(token).get(url)
            assert response.status_code == 403, url
            assert response.json()["error"]["code"] == "forbidden"
        moved = bearer(token).post(RECEIPTS.format("C-2") + "/R-1/change_customer_id", {}, format="json")
        assert moved.status_code == 403

    def test_only_the_granted_scope_is_held(self, trusted):
        token = customer_token(trusted, "C-1", ["user:receipts"])
        assert bearer(token).get(RECEIPTS.format("C-1")).status_code == 200
        assert bearer(token).get(RULES.format("C-1")).status_code == 403

    def test_revoking_the_minting_client_stops_its_customer_tokens(self, account):
        client, _ = api_client_create(account=account, name="app", scopes=["admin:receipts"])
        trusted, _ = tokens.client_access_token(aid=account.aid, client_id=client.client_id, scopes=client.scopes)
        token = customer_token(trusted, "C-1", ["user:receipts"])
        api_client_revoke(client=client)
        assert bearer(token).get(RECEIPTS.format("C-1")).status_code == 401

    def test_a_client_token_carrying_user_scopes_is_bound_to_no_customer(self, account):
        client, _ = api_client_create(account=account, name="old", scopes=["write:receipts"])
        legacy, _ = tokens.client_access_token(
            aid=account.aid, client_id=client.client_id, scopes=["write:receipts", "user:receipts"]
        )
        assert bearer(legacy).get(RECEIPTS.format("C-2")).status_code == 403


NON_USER_ROUTES = [r for r in ROUTES if not any(s.startswith("user:") for g in scope_groups_of(r) for s in g)]


def test_the_non_user_routes_are_collected():
    assert len(NON_USER_ROUTES) > 20
    assert len(NON_USER_ROUTES) < len(ROUTES)


@pytest.mark.parametrize("route", NON_USER_ROUTES, ids=str)
def test_every_other_operation_is_403_for_a_customer_token(route, account, trusted):
    token = customer_token(trusted, "C-1")
    response = call_route(route, account.aid, token)
    assert response.status_code == 403, f"{route}: {response.status_code} {response.content[:200]}"


class TestPrincipal:
    def test_require_customer_accepts_only_the_tokens_customer(self):
        principal = Principal(kind="customer", subject="customer:C-1", claims={}, customer_id="C-1")
        principal.require_customer("C-1")
        with pytest.raises(Forbidden):
            principal.require_customer("C-2")
        with pytest.raises(Forbidden):
            principal.require_customer(None)

    def test_other_principals_are_not_bound_to_a_customer(self):
        Principal(kind="client", subject="c", claims={}).require_customer("anyone")


class TestClientsHoldNoUserScopes:
    @pytest.mark.parametrize("scope", ["user:receipts", "user:discounts"])
    def test_the_service_refuses_user_scopes_naming_them(self, account, scope):
        with pytest.raises(DomainError, match=scope) as caught:
            api_client_create(account=account, name="app", scopes=["read:receipts", scope])
        assert caught.value.status == 400
        assert not ApiClient.objects.exists()

    def test_the_command_reports_it(self, account):
        with pytest.raises(CommandError, match="user:receipts"):
            call_command(
                "create_api_client", "--account", "T00000001", "--name", "x", "--scopes", "read:receipts,user:receipts"
            )

    def test_the_admin_form_offers_no_user_scopes(self):
        offered = {value for value, _ in ApiClientAddForm().fields["scope_choices"].choices}
        assert offered == {s for s in SCOPES if not s.startswith("user:")}

    def test_the_data_migration_takes_user_scopes_off_existing_clients(self, account):
        mixed = ApiClient.objects.create(
            account=account, name="m", client_id="m", secret_hash="x", scopes=["read:receipts", "user:receipts"]
        )
        only_user = ApiClient.objects.create(
            account=account, name="u", client_id="u", secret_hash="x", scopes=["user:discounts"]
        )
        clean = ApiClient.objects.create(
            account=account, name="c", client_id="c", secret_hash="x", scopes=["admin:receipts"]
        )
        migration = importlib.import_module("loyalty.accounts.migrations.0003_api_clients_without_user_scopes")

        migration.remove_user_scopes(django_apps, None)

        for client in (mixed, only_user, clean):
            client.refresh_from_db()
        assert mixed.scopes == ["read:receipts"] and mixed.active
        assert only_user.scopes == [] and not only_user.active and only_user.revoked_at is not None
        assert clean.scopes == ["admin:receipts"]
