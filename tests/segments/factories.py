"""Building segments through the Open Loyalty API for tests: receipts to segment, a segment, and its runs."""

from __future__ import annotations

from segments.models import SegmentRun
from segments.services.runs import segment_recalculate
from tests.receipts.factories import line, receipt

BASE = "/api/T00000001/segment"


def seed_receipts(api, n=12):
    docs = [
        receipt(customer_id=f"c{i % 4}", items=[line(f"sku{i % 3}")], net_amount=1000 * (i + 1), store_id=f"s{i % 2}")
        for i in range(n)
    ]
    assert api.post("/v1/accounts/T00000001/receipts", docs, format="json").status_code == 200


def create(api, parts=None, name="Regulars", **extra):
    body = {
        "segment": {
            "name": name,
            "parts": parts if parts is not None else [{"criteria": [{"type": "transaction_count", "min": 3}]}],
            **extra,
        }
    }
    response = api.post(BASE, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["segmentId"]


def run_all():
    for run in SegmentRun.objects.filter(status=SegmentRun.Status.QUEUED).order_by("created_at"):
        segment_recalculate(run_id=run.id)
