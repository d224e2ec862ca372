"""CORS for Dintero's discounts web widget: three public endpoints answer cross-origin browsers, nothing else does.

The widget runs on the merchant's origin: it fetches a token (`POST …/auth/token`, Basic) and reads the public rules.
The browser first sends a preflight `OPTIONS` without any credentials; it must be answered before authentication.
"""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tests.discounts.factories import give, rule

AID = "T00000001"
TOKEN = f"/v1/accounts/{AID}/auth/token"
PUBLIC = f"/v1/accounts/{AID}/discounts/public/rules"
ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "authorization, content-type, dintero-system-name, dintero-system-version"
SHOP = "https://shop.example"


def preflight(client: Client, url: str, method: str = "GET", origin: str = SHOP):
    return client.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type,dintero-system-name,dintero-system-version",
        },
    )


def assert_cors(response, origin: str = "*") -> None:
    assert response["Access-Control-Allow-Origin"] == origin
    assert response["Access-Control-Allow-Methods"] == ALLOW_METHODS
    assert response["Access-Control-Allow-Headers"] == ALLOW_HEADERS


@pytest.fixture
def public_rule(account):
    given = rule(account, name="Summer")
    give(account, given, "*")
    return given


@pytest.mark.django_db
class TestWidgetEndpoints:
    @pytest.mark.parametrize(("path", "method"), [(TOKEN, "POST"), (PUBLIC, "GET"), (f"{PUBLIC}/RULE", "GET")])
    def test_the_preflight_is_answered_before_authentication(self, account, public_rule, path, method):
        response = preflight(Client(), path.replace("RULE", str(public_rule.id)), method)

        assert response.status_code == 200
        assert_cors(response)

    @override_settings(AUTH_THROTTLE_RATE="2/minute")
    def test_token_preflights_are_not_throttled(self, account):
        client = Client()

        statuses = [preflight(client, TOKEN, "POST").status_code for _ in range(5)]

        assert statuses == [200] * 5

    def test_real_answers_carry_the_headers_errors_included(self, account, public_rule, api):
        anonymous = Client().get(PUBLIC, headers={"Origin": SHOP})
        listed = api.get(PUBLIC, headers={"Origin": SHOP})
        single = api.get(f"{PUBLIC}/{public_rule.id}", headers={"Origin": SHOP})
        refused = Client().post(TOKEN, {}, content_type="application/json", headers={"Origin": SHOP})

        assert anonymous.status_code == 401
        assert (listed.status_code, single.status_code) == (200, 200)
        assert refused.status_code in (400, 401)
        for response in (anonymous, listed, single, refused):
            assert_cors(response)

    @override_settings(CORS_ALLOW_ALL_ORIGINS=False, CORS_ALLOWED_ORIGINS=[SHOP])
    def test_configured_origins_are_echoed_and_others_get_nothing(self, account):
        allowed = preflight(Client(), PUBLIC, origin=SHOP)
        other = preflight(Client(), PUBLIC, origin="https://elsewhere.example")

        assert_cors(allowed, origin=SHOP)
        assert "Access-Control-Allow-Origin" not in other


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        f"/v1/accounts/{AID}/discounts/rules",
        f"/v1/accounts/{AID}/discounts/customers/c1/rules",
        f"/v1/accounts/{AID}/receipts",
        f"/api/{AID}/segment",
        f"{PUBLIC}/x/customers",
        "/api/admin/login_check",
    ],
)
def test_no_other_endpoint_is_cross_origin(account, api, path):
    before = preflight(Client(), path)
    answer = api.get(path, headers={"Origin": SHOP})

    for response in (before, answer):
        assert not [h for h in response.headers if h.lower().startswith("access-control-")], response.headers
