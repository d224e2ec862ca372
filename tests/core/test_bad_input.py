"""The bad-input catalogue: every API answers a clear 4xx in its family's shape, and nothing is written."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.test import override_settings

from tests.receipts.factories import receipt

RECEIPTS = "/v1/accounts/T00000001/receipts"
RULES = "/v1/accounts/T00000001/discounts/rules"
SEGMENTS = "/api/T00000001/segment"

WATCHED = [
    "receipts.Receipt",
    "receipts.Customer",
    "receipts.ItemFact",
    "receipts.IngestBatch",
    "segments.Segment",
    "segments.SegmentRun",
    "discounts.DiscountRule",
    "discounts.DiscountRef",
]


def snapshot() -> dict[str, int]:
    return {name: apps.get_model(name).objects.count() for name in WATCHED}


def family_shape(path: str, body: dict) -> None:
    if path.startswith("/api/"):
        assert isinstance(body.get("code"), int) and isinstance(body.get("message"), str), body
    else:
        assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str), body


def raw_post(api, path: str, payload: bytes, content_type: str = "application/json"):
    return api.generic("POST", path, payload, content_type=content_type)


DEEP = ("[" * 10_000 + "]" * 10_000).encode()
DEEP_OK_FOR_JSON = json.dumps([receipt() | {"extra": json.loads("[" * 100 + "]" * 100)}]).encode()
HUGE_ARRAY = json.dumps([receipt()] * 5000).encode()
INVALID_UTF8 = b'[{"receipt_id": "\xff\xfe", "store": {"id": "s"}, "purchase_at": "2024-01-01T00:00:00Z"}]'
NUL = json.dumps([receipt(receipt_id="a\u0000b")]).encode()
SEGMENT_NUL = json.dumps({"segment": {"name": "bad\u0000name"}}).encode()
RULE_NUL = json.dumps({"name": "x\u0000", "reward": {"type": "discount_amount", "value": 1}}).encode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "payload", "content_type", "status"),
    [
        (RECEIPTS, b"{not json", "application/json", 400),
        (RECEIPTS, b"[1, 2,", "application/json", 400),
        (RECEIPTS, b"", "application/json", 400),
        (RECEIPTS, b"   ", "application/json", 400),
        (RECEIPTS, b"receipt_id=1", "application/x-www-form-urlencoded", 415),
        (RECEIPTS, b"<receipts/>", "application/xml", 415),
        (RECEIPTS, DEEP, "application/json", 400),
        (RECEIPTS, DEEP_OK_FOR_JSON, "application/json", 400),
        (RECEIPTS, HUGE_ARRAY, "application/json", 400),
        (RECEIPTS, INVALID_UTF8, "application/json", 400),
        (RECEIPTS, NUL, "application/json", 400),
        (SEGMENTS, b"{", "application/json", 400),
        (SEGMENTS, DEEP, "application/json", 400),
        (SEGMENTS, SEGMENT_NUL, "application/json", 400),
        (SEGMENTS, b"null", "application/json", 400),
        (RULES, RULE_NUL, "application/json", 400),
        (RULES, b"[]", "application/json", 400),
        (RULES, DEEP, "application/json", 400),
    ],
    ids=lambda v: v if isinstance(v, str | int) else f"{len(v)}b",
)
def test_bad_bodies(api, path, payload, content_type, status):
    before = snapshot()
    response = raw_post(api, path, payload, content_type)
    assert response.status_code == status, response.content[:500]
    family_shape(path, response.json())
    assert snapshot() == before


@pytest.mark.django_db
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=50_000)
@pytest.mark.parametrize("path", [RECEIPTS, SEGMENTS, RULES])
def test_a_body_over_the_size_limit_is_413(api, path):
    before = snapshot()
    response = raw_post(api, path, json.dumps([receipt() for _ in range(200)]).encode())
    assert response.status_code == 413
    family_shape(path, response.json())
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        f"{RECEIPTS}/customers/c1?limit=-1",
        f"{RECEIPTS}/customers/c1?limit=99999999999999999999",
        f"{RECEIPTS}/customers/c1?starting_after=%00",
        f"{RULES}?limit=0",
        f"{RULES}?limit=1000",
        f"{SEGMENTS}?_page=-5",
        f"{SEGMENTS}?_itemsOnPage=9999999999999999999999",
        f"{SEGMENTS}?_orderBy[drop table]=asc",
        f"{SEGMENTS}?createdAt=yesterday",
        f"{SEGMENTS}?customersCount=1e999",
    ],
)
def test_bad_query_parameters_are_400(api, path):
    response = api.get(path)
    assert response.status_code == 400, response.content[:300]
    family_shape(path, response.json())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/v1/accounts/X0000000/receipts",
        "/v1/accounts/T00000001/discounts/rules/not-a-uuid",
        "/api/T00000001/segment/not-a-uuid",
        "/api/T00000001/segment/00000000-0000-0000-0000-000000000000/members",
        "/v1/accounts/T00000001/receipts/customers/" + "x" * 300,
    ],
)
def test_malformed_ids_are_404_or_400(api, path):
    response = api.get(path)
    assert response.status_code in (400, 404)
    family_shape(path, response.json())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "criterion",
    [
        {"type": "teleport"},
        {"type": None},
        {"type": "purchase_period", "fromDate": "2024-01-01T00:00:00", "toDate": "2024-02-01"},
        {"type": "purchase_period", "fromDate": "0000-01-01", "toDate": "2024-02-01"},
        {"type": "purchase_period", "fromDate": "99999-01-01", "toDate": "2024-02-01"},
        {"type": "transaction_amount", "fromAmount": "NaN"},
        {"type": "transaction_amount", "fromAmount": "Infinity"},
        {"type": "bought_skus", "skuIds": ["x" * 300]},
        {"type": "bought_skus", "skuIds": [{"nested": True}]},
    ],
)
def test_bad_criteria_are_400_and_nothing_is_saved(api, criterion):
    before = snapshot()
    response = api.post(SEGMENTS, {"segment": {"name": "n", "parts": [{"criteria": [criterion]}]}}, format="json")
    assert response.status_code == 400, response.content[:300]
    family_shape(SEGMENTS, response.json())
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        b'{"segment": {"name": "n", "parts": [{"criteria": [{"type": "transaction_count", "min": 1e400}]}]}}',
        b'{"segment": {"name": NaN}}',
        b'{"segment": {"name": "\\ud800 lone surrogate"}}',
    ],
)
def test_numbers_and_text_json_cannot_carry(api, raw):
    before = snapshot()
    response = raw_post(api, SEGMENTS, raw)
    assert response.status_code == 400, response.content[:300]
    family_shape(SEGMENTS, response.json())
    assert snapshot() == before


@pytest.mark.django_db
def test_big_integers_in_unknown_fields_stay_exact(api):
    doc = receipt(customer_id="c1", receipt_id="R-big")
    payload = json.dumps([doc])[:-2] + ', "pos_counter": 123456789012345678901234567890}]'
    assert raw_post(api, RECEIPTS, payload.encode()).status_code == 200
    assert b"123456789012345678901234567890" in api.get(f"{RECEIPTS}/customers/c1/R-big").content


@pytest.mark.django_db
def test_sql_and_html_are_stored_verbatim(api):
    evil = "'; DROP TABLE receipts_receipt; -- <script>alert(1)</script>"
    doc = receipt(customer_id="c1", receipt_id="R-evil", comment=evil)
    doc["store"]["name"] = evil
    assert api.post(RECEIPTS, [doc], format="json").status_code == 200
    body = api.get(f"{RECEIPTS}/customers/c1/R-evil").json()
    assert body["comment"] == evil and body["store"]["name"] == evil
    created = api.post(SEGMENTS, {"segment": {"name": evil, "parts": []}}, format="json")
    assert created.status_code == 200
    assert api.get(f"{SEGMENTS}/{created.json()['segmentId']}").json()["name"] == evil


@pytest.mark.django_db
@pytest.mark.parametrize(
    "purchase_at",
    [
        "2024-02-30T10:00:00Z",
        "2024-13-01T10:00:00Z",
        "2024-01-01T25:00:00Z",
        "2024-01-01T10:00:00",
        "0000-01-01T00:00:00Z",
        "tomorrow",
    ],
)
def test_invalid_and_timezone_less_dates_are_refused(api, purchase_at):
    before = snapshot()
    response = api.post(RECEIPTS, [receipt(purchase_at=purchase_at)], format="json")
    assert response.status_code == 400
    assert response.json()["error"]["errors"][0]["path"] == "purchase_at"
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writes_to_unknown_api_paths_are_json_404_not_a_csrf_page(api, method):
    # found by the contract fuzzing: the catch-all API 404 answered 403 HTML (CSRF) to writes
    response = getattr(api, method)("/api/T00000001/segment/null", {}, format="json")
    assert response.status_code == 404
    family_shape("/api/", response.json())
