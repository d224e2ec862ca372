"""The receipts list (filters, search, keyset paging) and the printed receipt."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from receipts.models import Receipt
from tests.web.shop import ingest, receipt_doc

pytestmark = pytest.mark.django_db


def receipts_url(account, **params):
    from urllib.parse import urlencode

    return reverse("web:receipts", kwargs={"aid": account.aid}) + (
        "?" + urlencode(params, doseq=True) if params else ""
    )


def ids(response):
    return [r.receipt_id for r in response.context["result"].rows]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["R1", "R2", "R3", "R5", "R6", "R4"]),
        ({"store": "S2"}, ["R2", "R4"]),
        ({"store": ["S1", "S2"], "status": "Voided"}, ["R6"]),
        ({"customer": "without"}, ["R5"]),
        ({"customer": "with", "min": "100", "max": "300"}, ["R1", "R2"]),
        ({"min": "19,90", "max": "19.90"}, ["R5"]),
        ({"currency": "nok", "store": "S2"}, ["R2", "R4"]),
        ({"q": "R3"}, ["R3"]),
        ({"q": "C2"}, ["R3", "R4"]),
        ({"q": "c1@example.com"}, ["R1", "R2", "R6"]),
        ({"q": "nothing-like-this"}, []),
    ],
)
def test_filters_and_search_narrow_the_list(shop, owner, params, expected):
    # when the list is filtered
    response = owner.get(receipts_url(shop, **params))
    # then only the matching receipts of this account show, newest first
    assert response.status_code == 200
    assert ids(response) == expected


def test_dates_are_whole_days_in_the_accounts_timezone(shop, owner):
    r4 = Receipt.objects.get(account=shop, receipt_id="R4")
    day = r4.purchase_at.astimezone(shop.tz).date().isoformat()
    response = owner.get(receipts_url(shop, **{"from": day, "to": day}))
    assert ids(response) == ["R4"]


def test_bad_filters_are_shown_next_to_their_fields(shop, owner):
    response = owner.get(receipts_url(shop, **{"from": "2024-13-01", "min": "abc"}))
    assert response.status_code == 400
    assert "Enter a valid date." in response.content.decode()
    assert "Enter an amount" in response.content.decode()


def test_keyset_pages_walk_forward_and_back_without_counting(shop, owner, monkeypatch, django_assert_max_num_queries):
    from loyalty.web.views import receipts as view

    monkeypatch.setattr(view, "PER_PAGE", 2)
    # given the first page
    with django_assert_max_num_queries(9):
        first = owner.get(receipts_url(shop))
    assert ids(first) == ["R1", "R2"]
    # when following "older" twice and "newer" once
    second = owner.get(receipts_url(shop, after=first.context["result"].next_cursor))
    third = owner.get(receipts_url(shop, after=second.context["result"].next_cursor))
    back = owner.get(receipts_url(shop, before=third.context["result"].previous_cursor))
    # then the pages follow each other and come back
    assert ids(second) == ["R3", "R5"]
    assert ids(third) == ["R6", "R4"]
    assert third.context["result"].next_cursor is None
    assert ids(back) == ["R3", "R5"]


def test_the_list_never_counts_the_whole_table(shop, owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        owner.get(receipts_url(shop, store="S1"))
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "receipts_receipt" in q["sql"]]
    # it counts exactly, but only up to a cap: every count reads at most COUNT_CAP + 1 rows
    assert counts and all(re.search(r"LIMIT 10001\) subquery$", sql) for sql in counts), counts


def test_a_cursor_that_is_not_ours_is_a_clear_400(shop, owner):
    response = owner.get(receipts_url(shop, after="garbage"))
    assert response.status_code == 400
    assert "Start from the newest" in response.content.decode()


def test_times_and_money_are_shown_in_the_account_timezone_and_currency(shop, owner):
    r1 = Receipt.objects.get(account=shop, receipt_id="R1")
    body = owner.get(receipts_url(shop)).content.decode()
    assert r1.purchase_at.astimezone(shop.tz).strftime("%Y-%m-%d %H:%M") in body
    assert "100.00\u00a0NOK" in body or "100.00 NOK" in body


def test_the_receipt_page_reads_like_the_printed_receipt(shop, owner):
    r1 = Receipt.objects.get(account=shop, receipt_id="R1")
    response = owner.get(reverse("web:receipt", kwargs={"aid": shop.aid, "pk": r1.pk}))
    body = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Store S1",
        "Coffee beans",
        "Coffee (G1)",
        "Member price",
        "\u22125.00 NOK",
        "Card",
        "25 %",
        "FirstC1 Person",
    ):
        assert text in body, text


def test_stored_by_names_the_api_client(account, other_account, owner):
    from loyalty.accounts.services import api_client_create
    from receipts.services.ingest import receipt_ingest

    client, _ = api_client_create(account=account, name="Till in Oslo", scopes=["admin:receipts"])
    theirs, _ = api_client_create(account=other_account, name="Their till", scopes=["admin:receipts"])
    receipt_ingest(account=account, documents=[receipt_doc(1)], created_by=client.client_id)
    receipt_ingest(account=account, documents=[receipt_doc(2)], created_by=theirs.client_id)
    by_name = {r.receipt_id: r.pk for r in Receipt.objects.filter(account=account)}

    ours = owner.get(reverse("web:receipt", kwargs={"aid": account.aid, "pk": by_name["R1"]})).content.decode()
    other = owner.get(reverse("web:receipt", kwargs={"aid": account.aid, "pk": by_name["R2"]})).content.decode()

    assert "by API client “Till in Oslo”" in ours
    # another account's client is never named here
    assert "Their till" not in other and f"by {theirs.client_id}" in other


def test_another_accounts_receipt_is_404(shop, owner, other_account):
    foreign = Receipt.objects.get(account=other_account)
    response = owner.get(reverse("web:receipt", kwargs={"aid": shop.aid, "pk": foreign.pk}))
    assert response.status_code == 404


def test_an_empty_account_says_how_receipts_arrive(account, owner):
    body = owner.get(receipts_url(account)).content.decode()
    assert "No receipts yet." in body and f"/v1/accounts/{account.aid}/receipts" in body


# An exact count, not the planner's estimate: on filtered lists an estimate is off by up to a factor of twelve.
def test_the_list_shows_an_exact_count_not_an_estimate(shop, owner):
    response = owner.get(receipts_url(shop))
    assert response.context["count"].matching == 6 and not response.context["count"].capped
    body = response.content.decode()
    assert "6 receipts." in body
    assert "estimate" not in body


def test_a_filtered_list_with_8_rows_says_8(shop, owner):
    ingest(shop, [receipt_doc(n, store="S9", customer="C9") for n in range(100, 108)])
    ingest(shop, [receipt_doc(n, store="S8", customer="C8") for n in range(200, 230)])

    response = owner.get(receipts_url(shop, store="S9"))

    assert len(ids(response)) == 8
    body = response.content.decode()
    assert "8 receipts match." in body
    assert "About" not in body and "estimate" not in body


def test_beyond_the_cap_the_count_says_cap_plus(shop, owner, monkeypatch):
    monkeypatch.setattr("loyalty.web.views.receipts.COUNT_CAP", 3)

    filtered = owner.get(receipts_url(shop, store="S1")).content.decode()
    exact = owner.get(receipts_url(shop, store="S2")).content.decode()

    assert "3+ receipts match." in filtered
    assert "2 receipts match." in exact


def test_the_count_selector_counts_up_to_its_cap(shop):
    from receipts.selectors import ReceiptFilters, receipts_count

    assert receipts_count(account=shop, filters=ReceiptFilters(), cap=100) == (6, False)
    assert receipts_count(account=shop, filters=ReceiptFilters(), cap=6) == (6, False)
    assert receipts_count(account=shop, filters=ReceiptFilters(), cap=5) == (5, True)
    assert receipts_count(account=shop, filters=ReceiptFilters(store_ids=["S2"]), cap=5) == (2, False)


@pytest.fixture
def ids_shop(account):
    ingest(
        account,
        [
            receipt_doc(1, customer="Cust-1", receipt_id="AB-100"),
            receipt_doc(2, customer="cust_2", receipt_id="ab-101"),
            receipt_doc(3, customer="CustX3", receipt_id="AB-200"),
            receipt_doc(4, customer=None, receipt_id="A%B-1"),
            receipt_doc(5, customer=None, receipt_id="A_B-1"),
            receipt_doc(6, customer=None, receipt_id="AXB-1"),
        ],
    )
    return account


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ab-1", ["AB-100", "ab-101"]),  # any case, by prefix
        ("AB-10", ["AB-100", "ab-101"]),
        ("ab-200", ["AB-200"]),
        ("a%b", ["A%B-1"]),  # LIKE's wildcards in the input are literal
        ("a_b", ["A_B-1"]),
        ("CUST-", ["AB-100"]),  # customer ids the same way
        ("cust_", ["ab-101"]),
        ("cust", ["AB-100", "ab-101", "AB-200"]),
        ("b-1", []),  # a prefix, not a substring
    ],
)
def test_search_matches_ids_by_prefix_in_any_case(ids_shop, owner, q, expected):
    response = owner.get(receipts_url(ids_shop, q=q))
    assert response.status_code == 200
    assert ids(response) == expected


@pytest.mark.parametrize(
    ("condition", "index"),
    [("receipt_id_prefix_q", "receipt_id_lower_prefix"), ("customer_id_prefix_q", "receipt_customer_lower_prefix")],
)
def test_each_half_of_the_search_is_an_index_range_scan(ids_shop, condition, index):
    from django.db import connection

    from receipts.selectors import pages

    # enough other receipts in the account that a scan of all of them costs more than the prefix's range
    ingest(ids_shop, [receipt_doc(n, customer=f"Z{n}", receipt_id=f"Z-{n}") for n in range(1000, 1300)])
    queryset = Receipt.objects.filter(account=ids_shop).filter(getattr(pages, condition)("Ab-1"))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Receipt._meta.db_table}")
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = queryset.explain()
    # a plain or a bitmap index scan: either reads only the prefix's range of the index (the planner picks by size)
    assert f"Index Scan using {index}" in plan or f"Bitmap Index Scan on {index}" in plan, plan
    assert "~>=~ 'ab-1'::text" in plan and "~<~ 'ab-2'::text" in plan, plan


def export_url(account, **params):
    from urllib.parse import urlencode

    return reverse("web:receipts-export", kwargs={"aid": account.aid}) + (
        "?" + urlencode(params, doseq=True) if params else ""
    )


def exported(response) -> list[list[str]]:
    import csv
    import io

    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8"))))


def test_the_csv_export_streams_the_filtered_list(shop, owner):
    response = owner.get(export_url(shop, store="S2"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="receipts-{shop.aid}-')
    rows = exported(response)
    assert rows[0] == [
        "purchased_at", "receipt_id", "store_id", "store_name", "customer_id",
        "items", "currency", "gross", "net", "status",
    ]  # fmt: skip
    assert [row[1] for row in rows[1:]] == ["R2", "R4"]
    r2 = rows[1]
    assert r2[2:] == ["S2", "Store S2", "C1", "1", "NOK", "250.00", "230.00", "Concluded"]
    at = Receipt.objects.get(account=shop, receipt_id="R2").purchase_at.astimezone(shop.tz)
    assert r2[0] == at.strftime("%Y-%m-%d %H:%M:%S")


def test_the_csv_export_reads_in_keyset_chunks(shop, owner, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from loyalty.web.views import receipts as view

    monkeypatch.setattr(view, "EXPORT_CHUNK", 2)
    response = owner.get(export_url(shop))
    with CaptureQueriesContext(connection) as queries:  # the rows are read while the response streams
        rows = exported(response)
    assert [row[1] for row in rows[1:]] == ["R1", "R2", "R3", "R5", "R6", "R4"]
    pages = [q["sql"] for q in queries if "receipts_receipt" in q["sql"]]
    assert len(pages) == 3 and all(sql.endswith("LIMIT 3") for sql in pages), pages
    assert all('"document"' not in sql.split(" FROM ")[0] for sql in pages)


def test_the_csv_export_neutralises_formulas_but_keeps_numbers_and_phones(account, owner):
    ingest(
        account,
        [
            receipt_doc(1, customer="=HYPERLINK(1)+1", receipt_id="+47 912 34 567"),
            receipt_doc(2, customer="@SUM(A1)2", receipt_id="-42"),
            receipt_doc(3, customer="+cmd|x3", receipt_id="-1.5"),
            receipt_doc(4, customer="-A14", receipt_id="=1+1"),
        ],
    )
    rows = {row[1]: row[4] for row in exported(owner.get(export_url(account)))[1:]}
    assert rows == {
        "+47 912 34 567": "'=HYPERLINK(1)+1",
        "-42": "'@SUM(A1)2",
        "-1.5": "'+cmd|x3",
        "'=1+1": "'-A14",
    }


def test_a_bad_filter_is_a_400_not_an_export(shop, owner):
    response = owner.get(export_url(shop, min="lots"))
    assert response.status_code == 400


def test_the_receipts_page_links_to_the_export_with_its_filters(shop, owner):
    body = owner.get(receipts_url(shop, store="S1", min="10")).content.decode()
    link = re.search(r'<a class="btn" id="receipts-export" href="([^"]+)"', body)
    assert link and link.group(1) == export_url(shop, min="10", store="S1").replace("&", "&amp;")
