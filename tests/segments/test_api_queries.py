"""Query counts of the Open Loyalty list endpoints: pinned, and the same whatever the number of items listed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.segments.factories import BASE, create, run_all, seed_receipts


def queries(api, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.django_db(transaction=True)
class TestListQueries:
    def test_segments(self, api):
        seed_receipts(api)
        create(api, name="First")
        run_all()
        few = queries(api, BASE)
        for name in ("Second", "Third", "Fourth"):
            create(api, name=name)
        run_all()
        assert queries(api, BASE) == few == 4

    def test_members(self, api):
        seed_receipts(api, n=4)
        segment_id = create(api, parts=[{"criteria": [{"type": "transaction_count", "min": 1}]}])
        run_all()
        one_each = queries(api, f"{BASE}/{segment_id}/members")
        seed_receipts(api, n=12)
        run_all()
        assert queries(api, f"{BASE}/{segment_id}/members") == one_each == 3

    def test_runs(self, api):
        seed_receipts(api)
        segment_id = create(api)
        run_all()
        first = queries(api, f"{BASE}/{segment_id}/runs")
        assert api.post(f"{BASE}/{segment_id}/refresh", {}, format="json").status_code in (200, 202, 204)
        run_all()
        assert queries(api, f"{BASE}/{segment_id}/runs") == first == 5
