"""The API clients page: owners list, create (the secret shown once) and revoke their account's clients."""

import base64

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from loyalty.accounts.models import ApiClient
from loyalty.accounts.scopes import Role
from loyalty.accounts.services import api_client_create
from loyalty.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def url(name: str, account, **kwargs) -> str:
    return reverse(f"web:{name}", kwargs={"aid": account.aid, **kwargs})


@pytest.fixture
def pos(account):
    client, secret = api_client_create(account=account, name="Till system", scopes=["admin:receipts", "read:receipts"])
    return client, secret


def token_for(client_id: str, secret: str, aid: str = "T00000001") -> str:
    basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = APIClient().post(
        f"/v1/accounts/{aid}/auth/token",
        {"grant_type": "client_credentials", "audience": f"http://testserver/v1/accounts/{aid}"},
        format="json",
        HTTP_AUTHORIZATION=basic,
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def test_an_owner_sees_the_accounts_clients(owner, account, other_account, pos):
    api_client_create(account=other_account, name="Somebody else's app", scopes=["read:receipts"])
    client, secret = pos
    token_for(client.client_id, secret)  # issuing a token records the use

    response = owner.get(url("api-clients", account))

    assert response.status_code == 200
    text = response.content.decode()
    assert "Till system" in text and "admin:receipts" in text and "read:receipts" in text
    assert client.client_id in text
    assert "Somebody else" not in text
    assert "Never" not in text  # it has been used
    assert secret not in text


def test_the_navigation_links_the_page_for_owners_only(owner, login, account):
    assert url("api-clients", account) in owner.get(url("dashboard", account)).content.decode()
    editor = login(account, role=Role.EDITOR)
    assert url("api-clients", account) not in editor.get(url("dashboard", account)).content.decode()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_editors_and_viewers_get_403(login, account, pos, role):
    client, _ = pos
    staff = login(account, role=role)
    assert staff.get(url("api-clients", account)).status_code == 403
    assert staff.get(url("api-client-new", account)).status_code == 403
    assert staff.post(url("api-client-new", account), {"name": "x", "scopes": ["read:receipts"]}).status_code == 403
    assert staff.get(url("api-client-revoke", account, pk=client.pk)).status_code == 403
    assert staff.post(url("api-client-revoke", account, pk=client.pk)).status_code == 403
    client.refresh_from_db()
    assert client.active and ApiClient.objects.count() == 1


def test_non_members_get_404(login, account, other_account):
    stranger = login(other_account, role=Role.OWNER)
    assert stranger.get(url("api-clients", account)).status_code == 404


def test_creating_shows_the_secret_once(owner, account):
    form = owner.get(url("api-client-new", account))
    assert form.status_code == 200
    assert "user:receipts" not in form.content.decode()  # not offered

    response = owner.post(url("api-client-new", account), {"name": "Member app", "scopes": ["admin:receipts"]})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    client = ApiClient.objects.get(name="Member app")
    assert client.scopes == ["admin:receipts"] and client.created_by == "user:olga"
    secret = response.context["secret"]
    assert secret in response.content.decode() and client.client_id in response.content.decode()
    assert token_for(client.client_id, secret)  # it works
    assert secret not in owner.get(url("api-clients", account)).content.decode()
    event = AuditEvent.objects.get()  # the service's; the page adds no second one
    assert (event.account, event.actor, event.action, event.object_id) == (
        account,
        "user:olga",
        "api_client.create",
        client.client_id,
    )
    assert secret not in event.summary


@pytest.mark.parametrize(
    "data",
    [
        {"name": "App", "scopes": ["user:receipts"]},
        {"name": "App", "scopes": []},
        {"name": "", "scopes": ["read:receipts"]},
        {"name": "App", "scopes": ["admin:everything"]},
    ],
)
def test_invalid_forms_are_400_and_create_nothing(owner, account, data):
    response = owner.post(url("api-client-new", account), data)
    assert response.status_code == 400
    assert not ApiClient.objects.exists()


def test_revoking_asks_then_stops_the_clients_tokens_at_once(owner, account, pos):
    client, secret = pos
    token = token_for(client.client_id, secret)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/v1/accounts/T00000001/receipts/customers/C-1").status_code == 200

    confirm = owner.get(url("api-client-revoke", account, pk=client.pk))
    assert confirm.status_code == 200 and "Till system" in confirm.content.decode()
    response = owner.post(url("api-client-revoke", account, pk=client.pk))

    assert response.status_code == 302 and response["Location"] == url("api-clients", account)
    client.refresh_from_db()
    assert not client.active and client.revoked_at is not None
    response = api.get("/v1/accounts/T00000001/receipts/customers/C-1")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    event = AuditEvent.objects.exclude(action="api_client.create").get()
    assert (event.account, event.actor, event.action, event.object_id) == (
        account,
        "user:olga",
        "api_client.revoke",
        client.client_id,
    )
    listing = owner.get(url("api-clients", account)).content.decode()
    assert "Revoked" in listing


def test_another_accounts_client_is_404(owner, account, other_account):
    foreign, _ = api_client_create(account=other_account, name="Foreign", scopes=["read:receipts"])
    assert owner.get(url("api-client-revoke", account, pk=foreign.pk)).status_code == 404
    assert owner.post(url("api-client-revoke", account, pk=foreign.pk)).status_code == 404
    foreign.refresh_from_db()
    assert foreign.active
