"""Segment services write their own audit events, in the transaction of the change, whoever calls them."""

from __future__ import annotations

import pytest

from loyalty.core.models import AuditEvent
from segments.models import Segment

BASE = "/api/T00000001/segment"
PARTS = [{"criteria": [{"type": "transaction_count", "min": 1}]}]


@pytest.mark.django_db
def test_api_writes_are_audited_with_the_pages_action_names(api, account):
    # when a segment is created, changed, deactivated, refreshed and deleted over the API
    segment_id = api.post(BASE, {"segment": {"name": "Audited", "parts": PARTS}}, format="json").json()["segmentId"]
    assert api.put(f"{BASE}/{segment_id}", {"segment": {"name": "Renamed"}}, format="json").status_code == 200
    assert api.post(f"{BASE}/{segment_id}/deactivate").status_code == 204
    assert api.post(f"{BASE}/{segment_id}/refresh").status_code == 202
    assert api.delete(f"{BASE}/{segment_id}").status_code == 204

    # then each is an audit event of the account, naming the segment and the API client (the fixture's own
    # creation of that client is audited too, as an api_client event)
    events = list(AuditEvent.objects.filter(object_type="segments.Segment").order_by("id"))
    assert [e.action for e in events] == [
        "web:segment-new",
        "web:segment-edit",
        "web:segment-active",
        "web:segment-refresh",
        "web:segment-delete",
    ]
    assert {(e.account_id, e.object_type, e.object_id) for e in events} == {
        (account.pk, "segments.Segment", segment_id)
    }
    assert all(e.actor for e in events)
    assert not Segment.objects.exists()


@pytest.mark.django_db
def test_a_refused_change_writes_no_audit_event(api):
    response = api.post(BASE, {"segment": {"name": "", "parts": PARTS}}, format="json")
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(object_type="segments.Segment").exists()  # (the fixture's client is audited)
