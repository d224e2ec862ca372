"""PostgreSQL restarting in the middle of a receipts batch: the client gets an error, nothing of the batch is
stored, and its retry stores it exactly once."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection

from receipts.models import Customer, Receipt
from tests.helpers import db_dsn, restart_database, wait_until
from tests.receipts.factories import receipt

RECEIPTS = "/v1/accounts/T00000001/receipts"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_database_restart_mid_batch_loses_nothing_and_the_retry_stores_once(api, api_for, account):
    assert api.post(RECEIPTS, [receipt(customer_id="c1", receipt_id="first")], format="json").status_code == 200
    batch = [receipt(customer_id="c1", receipt_id=f"B{n}") for n in range(1000)]

    # given another session holding c1's row, so the batch waits inside its transaction, receipts already written
    blocker = psycopg.connect(**db_dsn(), autocommit=False)
    blocker.execute("SELECT 1 FROM receipts_customer WHERE customer_id = 'c1' FOR UPDATE")
    outcome: dict = {}

    def post_batch():
        try:
            outcome["response"] = api_for(account).post(RECEIPTS, batch, format="json")
        finally:
            connection.close()

    poster = threading.Thread(target=post_batch)
    poster.start()
    wait_until(lambda: _batch_is_waiting(blocker), timeout=60, message="the batch to reach its customer update")

    # when the server restarts
    restart_database()
    poster.join(timeout=60)
    blocker.close()

    # then the client was told, and nothing of the batch is stored
    response = outcome["response"]
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"
    assert list(Receipt.objects.values_list("receipt_id", flat=True)) == ["first"]
    assert Customer.objects.get(customer_id="c1").purchases == 1

    # and the retry stores it exactly once
    retry = api.post(RECEIPTS, batch, format="json")
    assert retry.status_code == 200 and retry.json()["duplicates"] == 0
    again = api.post(RECEIPTS, batch, format="json")
    assert again.json()["duplicates"] == 1000
    assert Receipt.objects.count() == 1001
    assert Customer.objects.get(customer_id="c1").purchases == 1001


def _batch_is_waiting(blocker: psycopg.Connection) -> bool:
    with psycopg.connect(**db_dsn(), autocommit=True) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            ["%receipts_customer%= ANY%FOR UPDATE%"],  # the write path's customers lock (identifiers may be quoted)
        ).fetchone()
    return row[0] > 0
