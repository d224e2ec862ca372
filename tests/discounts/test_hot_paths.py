"""The till's hot paths run a fixed, small number of statements whatever the account holds, and the client check
they share still refuses a revoked client or a foreign account at once.

Statements are counted where psycopg sends them (`Cursor.execute`), so the raw statements (`raw_cursor`) count as
well as the ORM's; a transaction's BEGIN and COMMIT are not statements here. Under gunicorn a request may add
Django's `SELECT 1` health check (CONN_HEALTH_CHECKS), which the test client does not run."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from unittest import mock

import psycopg
import pytest
import yaml
from rest_framework.test import APIClient

from discounts import documents
from discounts.models import DiscountRef
from loyalty.accounts import tokens
from loyalty.accounts.models import ApiClient
from loyalty.accounts.scopes import SCOPES, USER_SCOPES
from loyalty.accounts.services import api_client_create, api_client_revoke
from tests.discounts.factories import discount, give, item_discount, rule

HELD = sorted(set(SCOPES) - USER_SCOPES)
AVAILABLE = "/v1/accounts/T00000001/discounts/available_for_receipt"
CLAIMS = AVAILABLE + "/claims"
EVENTS = "/v1/accounts/T00000001/discounts/events"


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement psycopg sends meanwhile, on any cursor (Django's are psycopg cursors too), and `COMMIT` for
    each transaction committed."""
    sent: list[str] = []
    execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit

    def counted(cursor, query, *args, **kwargs):
        sent.append(str(query)[:80] if isinstance(query, str) else repr(query)[:80])
        return execute(cursor, query, *args, **kwargs)

    def committed(connection):
        sent.append("COMMIT")
        return commit(connection)

    with (
        mock.patch.object(psycopg.Cursor, "execute", counted),
        mock.patch.object(psycopg.Connection, "commit", committed),
    ):
        yield sent


@pytest.fixture
def client_and_api(account):
    client, _ = api_client_create(account=account, name="till", scopes=HELD)
    token, _ = tokens.client_access_token(aid=account.aid, client_id=client.client_id, scopes=HELD)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    # its first request records last_used_at (once a minute per process): not what is counted here
    assert api.get("/v1/accounts/T00000001/discounts/available_for_receipt/claims").status_code == 200
    return client, api


def _receipt(customer_id: str | None = "c1") -> dict:
    body = {
        "store": {"id": "S1"}, "receipt_id": "r1", "purchase_at": datetime.now(UTC).isoformat(), "currency": "NOK",
        "gross_amount": 30000,
        "items": [
            {"id": "sku-1", "line_id": 1, "quantity": 2, "gross_amount": 20000, "eligible_for_discount": True,
             "groups": [{"id": "chairs"}]},
            {"id": "sku-2", "line_id": 2, "quantity": 1, "gross_amount": 10000, "eligible_for_discount": True},
        ],
    }  # fmt: skip
    if customer_id:
        body["customer_id"] = customer_id
    return body


def _post(api, path: str, body: dict, **headers) -> object:
    return api.post(path, json.dumps(body), content_type="application/json", headers=headers)


@pytest.mark.django_db(transaction=True)  # the services' own transactions, not savepoints in the test's
class TestStatements:
    def test_available_for_receipt_is_two_statements_however_many_refs_apply(self, client_and_api, account):
        _, api = client_and_api
        percent = {"type": "discount_percent", "value": 1}
        for n in range(12):
            made = rule(
                account,
                item_discount({"group_id": "chairs"}, name=f"chairs {n}", reward=percent)
                if n % 2
                else discount(name=f"receipt {n}", reward=percent),
            )
            give(account, made, "c1" if n % 3 else "*")
        for explain in ("", "?explain=true"):
            with statements() as sent:
                response = _post(api, AVAILABLE + explain, _receipt())
            assert response.status_code == 200, response.content
            assert len(response.json()["discounts"]) == 12
            # the client's check with its account, then the candidates with their use
            assert len(sent) == 2, sent

    def test_a_receipt_with_a_customer_token_adds_the_token_lookup(self, client_and_api, account):
        _, api = client_and_api
        give(account, rule(account, name="mine"), "c1")
        token = {"token_id": "t1", "type": "VIPPS", "value": "v1", "customer_id": "c1"}
        assert _post(api, EVENTS, {"token": token}, event="token_add", **{"event-delivery": "d1"}).status_code == 204
        body = {**_receipt(None), "customer": {"token": {"type": "VIPPS", "value": "v1"}}}
        with statements() as sent:
            response = _post(api, AVAILABLE, body)
        assert [d["name"] for d in response.json()["discounts"]] == ["mine"]
        assert len(sent) == 3, sent

    def test_a_claim_is_five_statements(self, client_and_api, account):
        _, api = client_and_api
        made = rule(account, discount(name="thrice", limitation={"discount_repeat_usage": 3}))
        give(account, made, "c1")
        ref = DiscountRef.objects.get(rule=made)
        body = {
            "ref": "tx-1", "purchase_at": "2026-01-01T12:00:00Z", "customer_id": "c1",
            "discounts": [{"id": str(made.pk), "refs": [{"id": str(ref.pk), "amount": 1000, "usage": 1}]}],
        }  # fmt: skip
        with statements() as sent:
            response = _post(api, CLAIMS, body)
        assert response.status_code == 200, response.content
        # client and account; the claim holding this ref; the refs locked; their purchases; the claim's insert
        assert len(sent) == 6 and sent[-1] == "COMMIT", sent
        with statements() as sent:
            again = _post(api, CLAIMS, body)
        assert again.json()["id"] == response.json()["id"]
        assert len(sent) == 3, sent  # a retry answers the stored claim

    def test_an_event_is_two_statements_without_a_transaction(self, client_and_api, account):
        _, api = client_and_api
        receipt = {"id": "0f4c6d1e-8f5a-4c9e-9d54-2b1f3a7c9e10", "customer_id": "c1", "store": {"id": "S1"},
                   "receipt_id": "r1", "purchase_at": "2025-05-01T12:00:00Z", "gross_amount": 100, "currency": "NOK"}  # fmt: skip
        token = {"token_id": "t1", "type": "VIPPS", "value": "v1", "customer_id": "c1"}
        for event, body in (("receipt_add", {"receipt": receipt}), ("token_add", {"token": token}),
                            ("token_remove", {"token": token})):  # fmt: skip
            with statements() as sent:
                response = _post(api, EVENTS, body, event=event, **{"event-delivery": f"d-{event}"})
            # the client's check, then the event with its change of the token store
            assert response.status_code == 204 and len(sent) == 2, sent


@pytest.mark.django_db
class TestTheClientCheck:
    def test_a_revoked_client_is_refused_on_its_next_request(self, client_and_api, account):
        client, api = client_and_api
        assert _post(api, AVAILABLE, _receipt()).status_code == 200
        api_client_revoke(client=client)
        for path, body in ((AVAILABLE, _receipt()), (CLAIMS, {}), (EVENTS, {})):
            response = _post(api, path, body)
            assert response.status_code == 401, response.content
            assert "revoked" in response.json()["error"]["message"]

    def test_a_client_of_another_account_is_refused_and_never_lends_its_account(self, account, other_account):
        theirs, _ = api_client_create(account=other_account, name="theirs", scopes=HELD)
        token, _ = tokens.client_access_token(aid=other_account.aid, client_id=theirs.client_id, scopes=HELD)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert _post(api, AVAILABLE, _receipt()).status_code == 403
        # a token naming this account for a client of another one is no client of this account
        forged, _ = tokens.client_access_token(aid=account.aid, client_id=theirs.client_id, scopes=HELD)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
        assert _post(api, AVAILABLE, _receipt()).status_code == 401
        assert ApiClient.objects.filter(account=account).count() == 0


class TestWarmUp:
    def test_the_spec_reads_the_same_with_libyaml(self):
        text = documents.SPEC_PATH.read_text()
        assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.safe_load(text)

    def test_a_web_worker_compiles_the_hot_validators_as_it_boots(self):
        documents.body_validator.cache_clear()
        importlib.reload(importlib.import_module("loyalty.wsgi"))
        assert documents.body_validator.cache_info().currsize == len(documents.HOT_OPERATIONS)
        for operation_id in documents.HOT_OPERATIONS:
            documents.validate_body(operation_id, {})
        # the requests compiled nothing more
        assert documents.body_validator.cache_info().misses == len(documents.HOT_OPERATIONS)
