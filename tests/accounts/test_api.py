"""Token endpoint (Dintero client credentials), staff login and refresh (Open Loyalty), JWKS, throttling."""

import base64
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import override_settings
from rest_framework.test import APIClient

from loyalty.accounts import tokens
from loyalty.accounts.models import RefreshToken
from loyalty.accounts.services import api_client_create, api_client_revoke, staff_user_upsert
from tests.accounts.jwt_forgery import forge

pytestmark = pytest.mark.urls("tests.accounts.probe_urls")
PROBE = "/v1/accounts/T00000001/probe"

TOKEN_URL = "/v1/accounts/T00000001/auth/token"
AUDIENCE = "http://testserver/v1/accounts/T00000001"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def pos_client(account):
    return api_client_create(account=account, name="pos", scopes=["admin:receipts", "read:receipts"])


def request_token(client_id, secret, **body):
    payload = {"grant_type": "client_credentials", "audience": AUDIENCE} | body
    return APIClient().post(TOKEN_URL, payload, format="json", HTTP_AUTHORIZATION=basic(client_id, secret))


@pytest.mark.django_db
class TestClientToken:
    def test_client_credentials_give_a_signed_token_with_the_account_and_scopes(self, pos_client):
        client, secret = pos_client

        response = request_token(client.client_id, secret)

        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        claims = tokens.decode(body["access_token"], issuer="http://testserver", audience=AUDIENCE)
        assert claims["sub"] == client.client_id
        assert claims["account"] == "T00000001"
        assert claims["scope"] == "admin:receipts read:receipts"
        assert claims["scopes"] == ["admin:receipts", "read:receipts"]
        assert {"iat", "exp", "jti", "iss", "aud"} <= claims.keys()
        assert claims["exp"] - claims["iat"] == 3600
        client.refresh_from_db()
        assert client.last_used_at is not None

    def test_wrong_secret_is_401_in_dintero_shape(self, pos_client):
        client, _ = pos_client
        response = request_token(client.client_id, "wrong")
        assert response.status_code == 401
        assert response.json() == {"error": {"code": "invalid_client", "message": "Invalid client credentials."}}

    def test_unknown_client_is_401(self, account):
        response = request_token("00000000-0000-0000-0000-000000000000", "x")
        assert response.status_code == 401

    def test_revoked_client_gets_no_token_and_its_tokens_stop_working(self, pos_client):
        client, secret = pos_client
        token = request_token(client.client_id, secret).json()["access_token"]

        api_client_revoke(client=client)

        assert request_token(client.client_id, secret).status_code == 401
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = api.get(PROBE)
        assert response.status_code == 401
        assert "revoked" in response.json()["error"]["message"]

    def test_client_of_another_account_cannot_get_a_token_for_this_one(self, pos_client, other_account):
        client, secret = pos_client
        response = APIClient().post(
            "/v1/accounts/T00000099/auth/token",
            {"grant_type": "client_credentials", "audience": "http://testserver/v1/accounts/T00000099"},
            format="json",
            HTTP_AUTHORIZATION=basic(client.client_id, secret),
        )
        assert response.status_code == 401

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"audience": "http://testserver/v1/accounts/T00000002"}, "invalid_audience"),
            ({"audience": "https://evil.example/v1/accounts/T00000001"}, "invalid_audience"),
            ({"grant_type": "password"}, "unsupported_grant_type"),
            ({"grant_type": None}, "validation_error"),
        ],
    )
    def test_bad_grant_or_audience_is_400(self, pos_client, body, code):
        client, secret = pos_client
        response = request_token(client.client_id, secret, **body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == code

    def test_missing_basic_auth_is_401(self, account):
        response = APIClient().post(TOKEN_URL, {"grant_type": "client_credentials"}, format="json")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"

    @override_settings(AUTH_THROTTLE_RATE="3/minute")
    def test_repeated_attempts_are_throttled_with_retry_after(self, pos_client):
        client, _ = pos_client
        statuses = [request_token(client.client_id, "wrong").status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        last = request_token(client.client_id, "wrong")
        assert last.status_code == 429
        assert 1 <= int(last["Retry-After"]) <= 60
        assert last.json()["error"]["code"] == "too_many_requests"


@pytest.fixture
def staff(account):
    user, _ = staff_user_upsert(account=account, username="alice", role="editor", password="s3cret-Pass!")
    return user


@pytest.mark.django_db
class TestStaffLogin:
    def login(self, username="alice", password="s3cret-Pass!"):
        return APIClient().post("/api/admin/login_check", {"username": username, "password": password}, format="json")

    def test_login_returns_token_and_refresh_token(self, staff):
        response = self.login()
        assert response.status_code == 200
        body = response.json()
        claims = tokens.verify_access_token(body["token"])
        assert claims["typ"] == "staff" and claims["username"] == "alice"
        assert len(body["refresh_token"]) > 40

    def test_wrong_password_is_401_in_open_loyalty_shape(self, staff):
        response = self.login(password="nope")
        assert response.status_code == 401
        assert response.json() == {"code": 401, "message": "Invalid credentials."}

    def test_missing_fields_are_400_with_paths(self, staff):
        response = APIClient().post("/api/admin/login_check", {}, format="json")
        assert response.status_code == 400
        paths = {error["path"] for error in response.json()["errors"]}
        assert paths == {"username", "password"}

    def test_refresh_token_is_single_use_and_reuse_revokes_the_family(self, staff):
        first = self.login().json()

        second = APIClient().post("/api/token/refresh", {"refresh_token": first["refresh_token"]}, format="json")
        assert second.status_code == 200
        new_pair = second.json()
        assert new_pair["refresh_token"] != first["refresh_token"]

        reuse = APIClient().post("/api/token/refresh", {"refresh_token": first["refresh_token"]}, format="json")
        assert reuse.status_code == 401
        # the reuse looks like theft: the newer token of the same family is revoked too
        after = APIClient().post("/api/token/refresh", {"refresh_token": new_pair["refresh_token"]}, format="json")
        assert after.status_code == 401
        assert RefreshToken.objects.filter(user=staff, revoked_at__isnull=True).count() == 0

    def test_user_without_membership_cannot_log_in(self, db):
        from tests.accounts.factories import UserFactory

        UserFactory(username="loner")
        assert self.login(username="loner", password="correct horse battery staple").status_code == 401


@pytest.fixture
def rsa_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.django_db
class TestSigningKeys:
    def test_jwks_is_empty_with_the_shared_secret(self, client):
        assert client.get("/.well-known/jwks.json").json() == {"keys": []}

    def test_rs256_tokens_verify_with_the_published_jwks(self, client, pos_client, rsa_pem):
        api_client, secret = pos_client
        with override_settings(JWT_PRIVATE_KEY=rsa_pem):
            token = request_token(api_client.client_id, secret).json()["access_token"]
            jwks = client.get("/.well-known/jwks.json").json()

        assert jwt.get_unverified_header(token)["alg"] == "RS256"
        (jwk,) = jwks["keys"]
        public_key = jwt.PyJWK(jwk).key
        claims = jwt.decode(token, public_key, algorithms=["RS256"], audience=AUDIENCE)
        assert claims["account"] == "T00000001"

    def test_hs256_token_signed_with_the_public_key_is_refused_under_rs256(self, pos_client, rsa_pem):
        # the classic algorithm-confusion attack: sign HS256 with the RSA public key as the HMAC secret
        api_client, _ = pos_client
        public_pem = (
            serialization.load_pem_private_key(rsa_pem.encode(), None)
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        now = int(time.time())
        claims = {
            "iss": "http://testserver",
            "aud": AUDIENCE,
            "sub": api_client.client_id,
            "typ": "client",
            "account": "T00000001",
            "scopes": ["admin:receipts"],
            "iat": now,
            "exp": now + 60,
            "jti": "x",
        }
        token = forge(claims, alg="HS256", key=public_pem)

        with override_settings(JWT_PRIVATE_KEY=rsa_pem):
            api = APIClient()
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            response = api.get(PROBE)
        assert response.status_code == 401


def test_openapi_schema_declares_the_bearer_scheme(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    probe = schema["paths"]["/v1/accounts/{aid}/probe"]["get"]
    assert probe["security"] == [{"bearerAuth": []}]
    token = schema["paths"]["/v1/accounts/{aid}/auth/token"]["post"]
    assert token["security"] == [{"basicAuth": []}]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
