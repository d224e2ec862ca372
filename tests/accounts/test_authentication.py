"""The authentication and permission machinery on probe endpoints of both API families."""

import time

import pytest
from rest_framework.test import APIClient

from loyalty.accounts import tokens
from loyalty.accounts.services import staff_user_upsert
from tests.accounts.jwt_forgery import forge

pytestmark = [pytest.mark.urls("tests.accounts.probe_urls"), pytest.mark.django_db]

DINTERO = "/v1/accounts/T00000001/probe"
OPEN_LOYALTY = "/api/T00000001/probe"


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def staff_token(user) -> str:
    token, _ = tokens.staff_access_token(user_id=user.pk, username=user.username)
    return token


class TestErrorShapes:
    def test_missing_token_is_401_in_each_familys_shape(self, account):
        dintero = APIClient().get(DINTERO)
        assert dintero.status_code == 401
        assert dintero["WWW-Authenticate"].startswith("Bearer")
        assert dintero.json()["error"]["code"] == "unauthorized"

        open_loyalty = APIClient().get(OPEN_LOYALTY)
        assert open_loyalty.status_code == 401
        body = open_loyalty.json()
        assert body["code"] == 401 and isinstance(body["message"], str)

    @pytest.mark.parametrize(
        ("path", "shape"),
        [
            ("/v1/accounts/X123/probe", "dintero"),
            ("/v1/accounts/T0000000100/probe", "dintero"),
            ("/v1/accounts/t00000001/receipts", "dintero"),
            ("/api/T0001/probe", "openloyalty"),
            ("/api/nope", "openloyalty"),
            ("/v1/nothing/here", "dintero"),
        ],
    )
    def test_malformed_account_ids_and_unknown_paths_are_404_in_api_shape(self, path, shape, api):
        response = api.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        body = response.json()
        if shape == "dintero":
            assert body["error"]["code"] == "not_found"
        else:
            assert body["code"] == 404

    def test_a_deleted_account_is_404(self, account, make_client_token):
        token = make_client_token(account, ["admin:receipts"])
        account.delete()
        # the client went with its account, so the token is refused outright
        assert bearer(token).get(DINTERO).status_code == 401

    def test_malformed_authorization_header_is_401(self, account):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token abc")
        assert client.get(DINTERO).status_code == 401


class TestClientTokens:
    def test_right_scope_passes_and_records_the_actor(self, account, make_client_token):
        token = make_client_token(account, ["read:receipts"])
        client_id = tokens.decode(token, issuer="http://testserver")["sub"]
        response = bearer(token).get(DINTERO)
        assert response.status_code == 200
        assert response.json() == {"account": "T00000001", "actor": client_id}

    def test_read_scope_cannot_write(self, account, make_client_token):
        response = bearer(make_client_token(account, ["read:receipts"])).post(DINTERO, {}, format="json")
        assert response.status_code == 403
        assert "admin:receipts, write:receipts" in response.json()["error"]["message"]

    def test_token_for_another_account_is_403(self, account, other_account, make_client_token):
        response = bearer(make_client_token(other_account, ["admin:receipts"])).get(DINTERO)
        assert response.status_code == 403
        assert response.json()["error"]["message"] == "The token is not valid for account T00000001."

    def test_not_yet_valid_token_is_401(self, account, make_client_token):
        valid = make_client_token(account, ["admin:receipts"])
        claims = tokens.decode(valid, issuer="http://testserver")
        future = forge(claims | {"nbf": int(time.time()) + 600}, alg="HS256", key=tokens.keys().signing_key.encode())
        assert bearer(future).get(DINTERO).status_code == 401

    def test_token_with_mismatched_audience_is_401(self, account, make_client_token):
        valid = make_client_token(account, ["admin:receipts"])
        claims = tokens.decode(valid, issuer="http://testserver")
        wrong = forge(
            claims | {"aud": "http://testserver/v1/accounts/T00000099"},
            alg="HS256",
            key=tokens.keys().signing_key.encode(),
        )
        assert bearer(wrong).get(DINTERO).status_code == 401

    def test_token_without_required_claims_is_401(self, account, make_client_token):
        valid = make_client_token(account, ["admin:receipts"])
        claims = tokens.decode(valid, issuer="http://testserver")
        claims.pop("jti")
        stripped = forge(claims, alg="HS256", key=tokens.keys().signing_key.encode())
        assert bearer(stripped).get(DINTERO).status_code == 401


class TestStaffTokens:
    @pytest.mark.parametrize(
        ("role", "get_status", "post_status"), [("owner", 200, 200), ("editor", 200, 200), ("viewer", 200, 403)]
    )
    def test_role_decides_what_a_staff_token_may_do(self, account, role, get_status, post_status):
        user, _ = staff_user_upsert(account=account, username=f"u-{role}", role=role, password="pw-123456-x")
        client = bearer(staff_token(user))
        for path in (DINTERO, OPEN_LOYALTY):
            assert client.get(path).status_code == get_status
            assert client.post(path, {}, format="json").status_code == post_status
        assert client.get(DINTERO).json()["actor"] == f"user:u-{role}"

    def test_staff_of_one_account_is_refused_in_another(self, account, other_account):
        user, _ = staff_user_upsert(account=other_account, username="bob", role="owner", password="pw-123456-x")
        response = bearer(staff_token(user)).get(OPEN_LOYALTY)
        assert response.status_code == 403
        assert response.json() == {"code": 403, "message": "The token is not valid for account T00000001."}

    def test_superuser_acts_in_any_account(self, account):
        from tests.accounts.factories import UserFactory

        root = UserFactory(username="root", is_superuser=True)
        assert bearer(staff_token(root)).post(DINTERO, {}, format="json").status_code == 200

    def test_deactivated_user_token_stops_working(self, account):
        user, _ = staff_user_upsert(account=account, username="carol", role="editor", password="pw-123456-x")
        token = staff_token(user)
        user.is_active = False
        user.save()
        assert bearer(token).get(DINTERO).status_code == 401

    def test_client_token_cannot_pose_as_staff(self, account, make_client_token):
        valid = make_client_token(account, ["admin:receipts"])
        claims = tokens.decode(valid, issuer="http://testserver") | {"typ": "staff", "aud": "http://testserver/api"}
        posed = forge(claims, alg="HS256", key=tokens.keys().signing_key.encode())
        assert bearer(posed).get(DINTERO).status_code == 401
