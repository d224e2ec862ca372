"""Automations over the API (checked against the spec) and their processing, in-process."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from discounts import services
from discounts.models import Automation, AutomationDelivery, AutomationEvent, AutomationTrigger, DiscountRef
from discounts.services.automations import automation_events_process
from discounts.services.deliveries import delivery_perform
from tests.discounts.factories import ACTOR, rule
from tests.spec import assert_response_matches

BASE = "/v1/accounts/T00000001/automations/rules"
EVENTS = "/v1/accounts/T00000001/discounts/events"
NOW = datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def automation(rule_id=None, *, events=("receipt_add",), filter=None, repeat=None, actions=None, **extra) -> dict:
    body: dict = {
        "name": "Big spenders at S001",
        "requirement": {
            "events": list(events),
            "automation_from": iso(NOW - timedelta(days=1)),
            "automation_to": iso(NOW + timedelta(days=30)),
        },
        "actions": actions if actions is not None else [{"type": "discount", "id": str(rule_id)}],
        **extra,
    }
    if filter is not None:
        body["requirement"]["filter"] = filter
    if repeat is not None:
        body["limitation"] = {"automation_repeat": repeat}
    return body


def ok(response, operation: str):
    assert response.status_code == 200, response.content
    assert_response_matches("discounts", operation, response)
    return response.json()


def receipt_event(api, customer: str, *, store: str = "S001", amount: int = 60000, receipt: str | None = None):
    body = {
        "receipt": {
            "id": receipt or str(uuid.uuid4()),
            "customer_id": customer,
            "store": {"id": store},
            "receipt_id": uuid.uuid4().hex[:8],
            "purchase_at": "2025-05-01T12:00:00Z",
            "gross_amount": amount,
            "currency": "NOK",
        }
    }
    response = api.post(EVENTS, body, format="json", HTTP_EVENT="receipt_add", HTTP_EVENT_DELIVERY=str(uuid.uuid4()))
    assert response.status_code == 204, response.content


def holders(given) -> list[str]:
    return sorted(DiscountRef.objects.filter(rule=given, deleted_at__isnull=True).values_list("customer_id", flat=True))


def deliver_all() -> None:
    for pk in AutomationDelivery.objects.filter(status="pending").values_list("id", flat=True):
        delivery_perform(delivery_id=pk, last_attempt=True)


@pytest.mark.django_db
class TestAPI:
    def test_create_get_list_delete(self, api, account):
        given = rule(account)
        created = ok(
            api.post(BASE, automation(given.id, filter={"$.store.id": ["S001"]}), format="json"),
            "aid_automations_rules_post",
        )

        assert created["limitation"] == {"automation_repeat": 1}  # the spec's default
        assert created["requirement"]["filter"] == {"$.store.id": ["S001"]}
        fetched = ok(api.get(f"{BASE}/{created['id']}"), "aid_automations_rules_rid_get")
        assert fetched == created
        assert [a["id"] for a in ok(api.get(BASE), "aid_automations_rules_get")] == [created["id"]]

        deleted = api.delete(f"{BASE}/{created['id']}")
        assert deleted.status_code == 200 and deleted.json()["deleted_at"]
        assert api.get(f"{BASE}/{created['id']}").status_code == 404
        assert api.delete(f"{BASE}/{created['id']}").status_code == 404
        assert ok(api.get(BASE), "aid_automations_rules_get") == []
        assert [a["id"] for a in api.get(f"{BASE}?state=deleted").json()] == [created["id"]]
        assert [a["id"] for a in api.get(f"{BASE}?state=all").json()] == [created["id"]]

    def test_the_examples_filters_key_is_read_as_filter(self, api, account):
        given = rule(account)
        body = automation(given.id)
        body["requirement"]["filters"] = {"$.store.id": ["sc029"]}

        created = ok(api.post(BASE, body, format="json"), "aid_automations_rules_post")

        assert created["requirement"]["filter"] == {"$.store.id": ["sc029"]}
        assert "filters" not in created["requirement"]

    def test_http_secrets_are_shown_once(self, api):
        action = {"type": "http", "url": "https://hooks.example/x", "method": "POST", "body": {"c": "$.customer_id"}}
        created = ok(api.post(BASE, automation(actions=[action]), format="json"), "aid_automations_rules_post")

        assert len(created["actions"][0]["secret"]) >= 16
        assert "secret" not in api.get(f"{BASE}/{created['id']}").json()["actions"][0]
        assert "secret" not in api.get(BASE).json()[0]["actions"][0]

    @pytest.mark.parametrize(
        "change",
        [
            lambda b: b.pop("actions"),
            lambda b: b.update(actions=[]),
            lambda b: b["requirement"].pop("events"),
            lambda b: b["requirement"].update(events=[]),
            lambda b: b["requirement"].update(events=["receipt_add", "receipt_add"]),
            lambda b: b["requirement"].update(events=["order_add"]),
            lambda b: b["requirement"].update(automation_to=b["requirement"]["automation_from"]),
            lambda b: b["requirement"].update(automation_to="2099-01-01T00:00:00Z"),  # after the rule's end
            lambda b: b["requirement"].update(filter={"store.id": ["S1"]}),
            lambda b: b["requirement"].update(filter={"$.store['id']": ["S1"]}),
            lambda b: b["requirement"].update(filter={"$.store.id": []}),
            lambda b: b["requirement"].update(filter={"$.store.id": "S1"}),
            lambda b: b["requirement"].update(filter={"$.a": [{"numeric": [">"]}]}),
            lambda b: b["requirement"].update(filter={"$.a": [{"numeric": ["!=", 5]}]}),
            lambda b: b["requirement"].update(filter={"$.a": [{"prefix": "x"}]}),
            lambda b: b["requirement"].update(filter={"$.a": [{"anything-but": []}]}),
            lambda b: b["requirement"].update(filter={"$.a": [[1]]}),
            lambda b: b["requirement"].update(filters={}, filter={}),
            lambda b: b.update(limitation={"automation_repeat": 0}),
            lambda b: b.update(limitation={"automation_repeat": "1"}),
            lambda b: b.update(actions=[{"type": "discount", "id": str(uuid.uuid4())}]),
            lambda b: b.update(actions=[{"type": "email"}]),
            lambda b: b.update(actions=[{"type": "http", "url": "ftp://x/y", "method": "POST"}]),
            lambda b: b.update(actions=[{"type": "http", "url": "http://[::1", "method": "POST"}]),
            lambda b: b.update(actions=[{"type": "http", "url": "http://x:99999/", "method": "POST"}]),
            lambda b: b.update(actions=[{"type": "http", "url": "https://x/", "method": "TRACE"}]),
            lambda b: b.update(actions=[{"type": "http", "url": "https://x/", "method": "GET", "secret": "short"}]),
            lambda b: b.update(name="a\u0000"),
        ],
    )
    def test_bad_automations_are_400_and_write_nothing(self, api, account, change):
        body = automation(
            rule(
                account,
                requirement={"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": iso(NOW + timedelta(days=60))},
            ).id
        )
        change(body)

        response = api.post(BASE, body, format="json")

        assert response.status_code == 400, response.content
        assert_response_matches("discounts", "aid_automations_rules_post", response)
        assert not Automation.objects.exists()

    def test_deleting_a_rule_deletes_its_automations(self, api, account):
        given, other = rule(account), rule(account)
        doomed = ok(api.post(BASE, automation(given.id), format="json"), "aid_automations_rules_post")
        kept = ok(api.post(BASE, automation(other.id), format="json"), "aid_automations_rules_post")

        assert api.delete(f"/v1/accounts/T00000001/discounts/rules/{given.id}").status_code == 200

        assert api.get(f"{BASE}/{doomed['id']}").status_code == 404
        assert api.get(f"{BASE}/{kept['id']}").status_code == 200

    def test_list_queries_are_bounded(self, api, account, django_assert_max_num_queries):
        given = rule(account)
        for _ in range(12):
            api.post(BASE, automation(given.id), format="json")
        with django_assert_max_num_queries(6):
            assert len(api.get(f"{BASE}?limit=100").json()) == 12

    def test_tenancy_and_scopes(self, api, api_for, account, other_account):
        foreign_rule = rule(other_account)
        foreign = api_for(other_account)
        theirs = foreign.post(
            f"/v1/accounts/{other_account.aid}/automations/rules", automation(foreign_rule.id), format="json"
        ).json()

        assert api.get(BASE).json() == []
        assert api.get(f"{BASE}/{theirs['id']}").status_code == 404
        assert api.delete(f"{BASE}/{theirs['id']}").status_code == 404
        # another account's rule cannot be an action here
        assert api.post(BASE, automation(foreign_rule.id), format="json").status_code == 400
        reader = api_for(account, ["read:automations"])
        assert reader.get(BASE).status_code == 200
        assert reader.post(BASE, automation(rule(account).id), format="json").status_code == 403
        assert api_for(account, ["admin:discounts"]).get(BASE).status_code == 403
        writer = api_for(account, ["write:automations"])
        assert writer.post(BASE, automation(rule(account).id), format="json").status_code == 200
        assert writer.get(BASE).status_code == 403
        assert Automation.objects.filter(account=other_account, deleted_at__isnull=True).count() == 1


@pytest.mark.django_db
class TestProcessing:
    def test_a_matching_receipt_gives_the_rule_once(self, api, account):
        given = rule(account)
        api.post(
            BASE,
            automation(
                given.id, filter={"$.store.id": ["S001", "S002"], "$.gross_amount": [{"numeric": [">", 50000]}]}
            ),
            format="json",
        )

        receipt_event(api, "big", amount=60000)
        receipt_event(api, "small", amount=100)
        receipt_event(api, "elsewhere", store="S009")
        receipt_event(api, "other-store", store="S002")
        automation_events_process(account_id=account.pk)
        deliver_all()
        deliver_all()  # a repeat finds them done

        assert holders(given) == ["big", "other-store"]
        made = Automation.objects.get()
        assert (made.events_seen, made.triggered) == (4, 2)
        assert AutomationEvent.objects.filter(processed_at__isnull=True).count() == 0
        assert set(AutomationDelivery.objects.values_list("status", "attempts")) == {("succeeded", 1)}

    def test_automation_repeat_limits_each_customer(self, api, account):
        once, twice, always = rule(account), rule(account), rule(account)
        for given, repeat in ((once, 1), (twice, 2), (always, -1)):
            api.post(BASE, automation(given.id, repeat=repeat), format="json")

        for _ in range(3):
            receipt_event(api, "C1")
        automation_events_process(account_id=account.pk)
        receipt_event(api, "C1")
        automation_events_process(account_id=account.pk)
        deliver_all()

        counts = {
            g.pk: DiscountRef.objects.filter(rule=g, customer_id="C1", deleted_at__isnull=True).count()
            for g in (once, twice, always)
        }
        assert counts == {once.pk: 1, twice.pk: 2, always.pk: 4}

    def test_events_outside_the_window_or_type_do_nothing(self, api, account):
        given = rule(account)
        later = automation(given.id)
        later["requirement"]["automation_from"] = iso(NOW + timedelta(days=1))
        api.post(BASE, later, format="json")
        api.post(BASE, automation(given.id, events=["customer_add"]), format="json")

        receipt_event(api, "C1")
        automation_events_process(account_id=account.pk)

        assert not AutomationTrigger.objects.exists() and holders(given) == []

    def test_deleted_rule_fails_the_delivery(self, api, account):
        given = rule(account)
        api.post(BASE, automation(given.id), format="json")
        receipt_event(api, "C1")
        automation_events_process(account_id=account.pk)
        delivery = AutomationDelivery.objects.get()
        # the rule goes after the trigger was made
        services.rule_delete(account=account, rule=given, actor=ACTOR)

        delivery_perform(delivery_id=delivery.pk, last_attempt=True)

        delivery.refresh_from_db()
        assert delivery.status == "failed"
        # deleting the rule deleted the automation, which stops what it had not done yet
        assert delivery.error == "The automation was deleted before this action ran."
        assert holders(given) == []


@pytest.mark.django_db(transaction=True)
def test_automation_repeat_holds_under_concurrent_processors(api_for, account):
    """Two processors at once over the same customer's events: the advisory lock and the unique occurrence keep
    automation_repeat."""
    api = api_for(account)
    given = rule(account)
    api.post(BASE, automation(given.id, repeat=2), format="json")
    for _ in range(6):
        receipt_event(api, "C1")

    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def process() -> None:
        try:
            barrier.wait()
            automation_events_process(account_id=account.pk)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=process) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deliver_all()

    assert not errors
    assert sorted(AutomationTrigger.objects.values_list("occurrence", flat=True)) == [1, 2]
    assert DiscountRef.objects.filter(rule=given, customer_id="C1").count() == 2


RECEIPTS = "/v1/accounts/T00000001/receipts"


def store_receipts(api, *documents) -> list[str]:
    response = api.post(RECEIPTS, list(documents), format="json")
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["receipts"]]


@pytest.mark.django_db
class TestReceiptEvents:
    def test_receipts_become_receipt_and_customer_events_once(self, api, account):
        from discounts.services.events import receipts_to_events
        from tests.receipts.factories import receipt

        given = rule(account)
        for events in (["receipt_add"], ["customer_add"], ["customer_update"]):
            api.post(BASE, automation(given.id, events=events, repeat=-1), format="json")

        ids = store_receipts(api, receipt(customer_id="new", store_id="S001"), receipt(customer_id=None))
        receipts_to_events(account_id=account.pk)
        receipts_to_events(account_id=account.pk)  # a repeat finds nothing new

        events = {(e.type, e.customer_id, e.subject) for e in AutomationEvent.objects.all()}
        assert events == {
            ("receipt_add", "new", f"receipt:{ids[0]}"),
            ("receipt_add", None, f"receipt:{ids[1]}"),
            ("customer_add", "new", "new"),
        }
        added = AutomationEvent.objects.get(type="customer_add")
        assert added.payload["store"] == {"id": "S001"} and added.payload["email"] == "new@example.com"
        receipt_add = AutomationEvent.objects.get(subject=f"receipt:{ids[0]}")
        assert receipt_add.payload["id"] == ids[0] and receipt_add.payload["store"]["id"] == "S001"

        # the same customer again, same profile: neither added nor updated; then a new e-mail: updated
        store_receipts(api, receipt(customer_id="new", purchase_at="2024-06-01T00:00:00Z"))
        receipts_to_events(account_id=account.pk)
        assert AutomationEvent.objects.filter(type__in=["customer_add", "customer_update"]).count() == 1
        store_receipts(
            api,
            receipt(customer_id="new", purchase_at="2024-07-01T00:00:00Z", customer={"email": "moved@example.com"}),
        )
        receipts_to_events(account_id=account.pk)
        updated = AutomationEvent.objects.get(type="customer_update")
        assert (updated.customer_id, updated.payload["email"]) == ("new", "moved@example.com")

        # and the same receipt posted again (a retry) adds no event
        before = AutomationEvent.objects.count()
        store_receipts(api, receipt(customer_id="new", store_id="S001", receipt_id="R-again"))
        store_receipts(api, receipt(customer_id="new", store_id="S001", receipt_id="R-again"))
        receipts_to_events(account_id=account.pk)
        assert AutomationEvent.objects.count() == before + 1

    def test_without_automations_batches_make_no_events(self, api, account):
        from discounts.services.events import receipts_to_events
        from tests.receipts.factories import receipt

        store_receipts(api, receipt(customer_id="c"))

        assert receipts_to_events(account_id=account.pk) == 0
        assert not AutomationEvent.objects.exists()


@pytest.mark.django_db
def test_the_sweep_forgets_old_events_that_triggered_nothing(api, account):
    from django.utils import timezone

    from discounts.services.automations import automations_sweep

    given = rule(account)
    api.post(BASE, automation(given.id, filter={"$.store.id": ["S001"]}), format="json")
    receipt_event(api, "kept")
    receipt_event(api, "ignored", store="S009")
    automation_events_process(account_id=account.pk)

    assert automations_sweep(now=timezone.now() + timedelta(days=29))["forgotten"] == 0
    assert automations_sweep(now=timezone.now() + timedelta(days=31))["forgotten"] == 1

    assert list(AutomationEvent.objects.values_list("customer_id", flat=True)) == ["kept"]
    assert AutomationTrigger.objects.count() == 1


@pytest.mark.django_db
def test_batches_are_read_in_chunks_and_the_cursor_only_passes_settled_ones(api, account, monkeypatch):
    from django.db.models import F

    from discounts.models import AutomationBatchCursor, AutomationBatchSeen
    from discounts.services import events
    from receipts.models import IngestBatch, Receipt
    from tests.receipts.factories import receipt

    monkeypatch.setattr(events, "BATCH_CHUNK", 2)
    api.post(BASE, automation(rule(account).id, repeat=-1), format="json")
    for n in range(5):
        store_receipts(api, receipt(customer_id=f"c{n}"))
    # the first three are old enough that no batch below them can still appear
    old = list(IngestBatch.objects.order_by("id").values_list("id", flat=True)[:3])
    IngestBatch.objects.filter(id__in=old).update(created_at=F("created_at") - timedelta(minutes=11))
    Receipt.objects.filter(customer_id__in=["c0", "c1", "c2"]).update(
        created_at=F("created_at") - timedelta(minutes=11)
    )

    assert events.receipts_to_events(account_id=account.pk) == 5

    assert AutomationEvent.objects.filter(type="receipt_add").count() == 5
    assert AutomationBatchCursor.objects.get(account=account).last_batch == old[-1]
    assert AutomationBatchSeen.objects.count() == 2  # the two recent ones, until they settle
    store_receipts(api, receipt(customer_id="c5"))
    assert events.receipts_to_events(account_id=account.pk) == 1
    assert events.receipts_to_events(account_id=account.pk) == 0
