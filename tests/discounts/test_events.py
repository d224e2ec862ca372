"""POST /discounts/events: a webhook sink, idempotent by event-delivery; the token store it keeps."""

from __future__ import annotations

import threading
import uuid

import pytest

from discounts.models import AutomationEvent, CustomerToken
from discounts.selectors.tokens import customer_token_resolve
from tests.helpers import db_dsn
from tests.spec import assert_response_matches

BASE = "/v1/accounts/T00000001/discounts/events"
RECEIPT = {
    "id": "0193a2b4-0000-7000-8000-000000000001",
    "customer_id": "C1",
    "store": {"id": "S001"},
    "receipt_id": "714118",
    "purchase_at": "2025-05-01T12:00:00Z",
    "gross_amount": 59800,
    "currency": "NOK",
}


def token(customer: str = "C1", value: str = "a1b79ef1", **overrides) -> dict:
    return {"token": {"token_id": "t1", "type": "sha1:email", "value": value, "customer_id": customer, **overrides}}


def post(api, event: str, body: dict, delivery: str | None = None):
    return api.post(BASE, body, format="json", HTTP_EVENT=event, HTTP_EVENT_DELIVERY=delivery or str(uuid.uuid4()))


def accepted(response) -> None:
    assert response.status_code == 204, response.content
    assert_response_matches("discounts", "aid_discounts_events_post", response)


@pytest.mark.django_db
class TestEvents:
    def test_token_add_and_remove_keep_the_map(self, api, account):
        accepted(post(api, "token_add", token()))
        assert customer_token_resolve(account=account, token_type="sha1:email", value="a1b79ef1") == "C1"
        assert customer_token_resolve(account=account, token_type="sha1:phone", value="a1b79ef1") is None

        # the same token added for another customer moves to them; a late remove for the first changes nothing
        accepted(post(api, "token_add", token("C2")))
        accepted(post(api, "token_remove", token("C1")))
        assert customer_token_resolve(account=account, token_type="sha1:email", value="a1b79ef1") == "C2"

        accepted(post(api, "token_remove", token("C2")))
        assert customer_token_resolve(account=account, token_type="sha1:email", value="a1b79ef1") is None

    def test_a_repeated_delivery_has_no_second_effect(self, api, account):
        accepted(post(api, "token_add", token(), delivery="d-1"))
        accepted(post(api, "token_remove", token(), delivery="d-2"))

        # d-1 again (a hook's retry): the token stays removed
        accepted(post(api, "token_add", token(), delivery="d-1"))

        assert customer_token_resolve(account=account, token_type="sha1:email", value="a1b79ef1") is None
        assert AutomationEvent.objects.count() == 2

    def test_a_receipt_is_one_event_whichever_delivery_brings_it(self, api):
        accepted(post(api, "receipt_add", {"receipt": RECEIPT}, delivery="d-1"))
        accepted(post(api, "receipt_add", {"receipt": RECEIPT}, delivery="d-2"))
        accepted(
            post(
                api,
                "receipt_add",
                {"receipt": {**RECEIPT, "id": "0193a2b4-0000-7000-8000-000000000002"}},
                delivery="d-3",
            )
        )

        events = AutomationEvent.objects.order_by("id")
        assert [(e.key, e.type, e.customer_id) for e in events] == [
            ("delivery:d-1", "receipt_add", "C1"),
            ("delivery:d-3", "receipt_add", "C1"),
        ]
        assert events[0].payload["store"] == {"id": "S001"}

    def test_concurrent_repeats_are_one_event(self, api, account, transactional_db):
        # two sessions insert the same delivery at once: the unique key decides, one of them wins
        import psycopg

        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def insert() -> None:
            with psycopg.connect(**db_dsn()) as conn:
                barrier.wait()
                cur = conn.execute(
                    "INSERT INTO discounts_automationevent (account_id, key, type, source, payload, occurred_at,"
                    " received_at) VALUES (%s, 'delivery:same', 'token_add', 'api', '{}', now(), now())"
                    " ON CONFLICT DO NOTHING",
                    [account.pk],
                )
                outcomes.append("inserted" if cur.rowcount else "repeat")

        threads = [threading.Thread(target=insert) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(outcomes) == ["inserted", "repeat"]
        assert AutomationEvent.objects.filter(key="delivery:same").count() == 1

    @pytest.mark.parametrize(
        ("event", "delivery", "body"),
        [
            ("customer_add", "d", token()),
            ("", "d", token()),
            ("token_add", "", token()),
            ("token_add", "x" * 300, token()),
            ("token_add", "d", {}),
            ("token_add", "d", token(customer=" C1")),
            ("token_add", "d", token(value="")),
            ("token_add", "d", {"token": {"type": "x"}}),
            ("receipt_add", "d", {"receipt": {**RECEIPT, "customer_id": None}}),
            ("receipt_add", "d", {"receipt": {k: v for k, v in RECEIPT.items() if k != "id"}}),
            ("receipt_add", "d", token()),
            ("token_add", "d", [1]),
            ("token_add", "d", token(value="a\u0000")),
        ],
    )
    def test_bad_events_are_400_and_change_nothing(self, api, event, delivery, body):
        response = api.post(BASE, body, format="json", HTTP_EVENT=event, HTTP_EVENT_DELIVERY=delivery)

        assert response.status_code == 400, response.content
        assert_response_matches("discounts", "aid_discounts_events_post", response)
        assert not AutomationEvent.objects.exists() and not CustomerToken.objects.exists()

    def test_missing_headers_are_400(self, api):
        response = api.post(BASE, token(), format="json")

        assert response.status_code == 400
        paths = {e["path"] for e in response.json()["error"]["errors"]}
        assert paths == {"event", "event-delivery"}

    def test_tenancy_and_scopes(self, api_for, account, other_account):
        foreign = api_for(other_account)
        assert post(foreign, "token_add", token()).status_code == 403  # a token of another account, on this path
        accepted(post(api_for(account, ["write:discounts"]), "token_add", token()))
        assert post(api_for(account, ["read:discounts"]), "token_add", token(value="b")).status_code == 403
        narrow = api_for(account, ["write:discounts:/events"])  # the spec's scope for this operation alone
        accepted(post(narrow, "token_add", token(value="n")))
        assert narrow.get("/v1/accounts/T00000001/discounts/rules").status_code == 403
        assert post(api_for(account, ["admin:automations"]), "token_add", token(value="c")).status_code == 403
        # tokens are per account
        other = f"/v1/accounts/{other_account.aid}/discounts/events"
        response = foreign.post(other, token(), format="json", HTTP_EVENT="token_add", HTTP_EVENT_DELIVERY="x")
        assert response.status_code == 204
        assert customer_token_resolve(account=account, token_type="sha1:email", value="a1b79ef1") == "C1"
        CustomerToken.objects.filter(account=account).delete()
        assert customer_token_resolve(account=account, token_type="sha1:email", value="a1b79ef1") is None
