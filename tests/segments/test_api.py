"""The Open Loyalty Segment API and our extensions, validated against the spec."""

from __future__ import annotations

import pytest

from segments.models import Segment, SegmentRun
from tests.segments.factories import BASE, create, run_all, seed_receipts
from tests.spec import assert_response_matches


@pytest.mark.django_db(transaction=True)
class TestLifecycle:
    def test_create_calculate_read_update_delete(self, api):
        seed_receipts(api)

        response = api.post(
            BASE,
            {"segment": {"name": "Regulars", "parts": [{"criteria": [{"type": "transaction_count", "min": 3}]}]}},
            format="json",
        )
        assert_response_matches("segments", "segmentPost", response)
        segment_id = response.json()["segmentId"]
        (run,) = SegmentRun.objects.all()
        assert (run.trigger, run.status) == ("created", "queued")

        before = api.get(f"{BASE}/{segment_id}")
        assert_response_matches("segments", "segmentGet", before)
        assert "calculatedAt" not in before.json()
        assert before.json()["calculation"]["status"] == "queued"

        run_all()

        body = api.get(f"{BASE}/{segment_id}").json()
        assert body["customersCount"] == 4
        assert body["calculatedAt"] and body["currency"] == "NOK"
        # 12 receipts of 1000..12000 minor units over 4 customers: 78000 / 12 purchases, 780.00 each on average
        assert (body["averageTransactionAmount"], body["averageTransactions"], body["averageClv"]) == (65.0, 3.0, 195.0)
        part = body["parts"][0]
        assert part["segmentPartId"] and part["criteria"][0]["criterionId"]

        update = api.put(
            f"{BASE}/{segment_id}",
            {
                "segment": {
                    "name": "Big spenders",
                    "parts": [{"criteria": [{"type": "transaction_amount", "fromAmount": 200}]}],
                }
            },
            format="json",
        )
        assert_response_matches("segments", "segmentPut", update)
        run_all()
        body = api.get(f"{BASE}/{segment_id}").json()
        assert body["name"] == "Big spenders"
        assert body["customersCount"] == 2  # c2: 3000+7000+11000, c3: 4000+8000+12000 (in minor units)

        deleted = api.delete(f"{BASE}/{segment_id}")
        assert deleted.status_code == 204 and not deleted.content
        assert api.get(f"{BASE}/{segment_id}").status_code == 404

    def test_renaming_does_not_recalculate_but_changing_criteria_does(self, api):
        segment_id = create(api)
        run_all()
        api.put(f"{BASE}/{segment_id}", {"segment": {"name": "New name"}}, format="json")
        assert SegmentRun.objects.count() == 1
        api.put(
            f"{BASE}/{segment_id}",
            {"segment": {"name": "New name", "parts": [{"criteria": [{"type": "transaction_count", "min": 1}]}]}},
            format="json",
        )
        assert SegmentRun.objects.filter(trigger="updated").count() == 1

    def test_put_keeps_what_it_is_not_given(self, api):
        # given a deactivated segment with a description and a manual refresh policy
        manual = {"onNewReceipts": False, "schedule": None}
        segment_id = create(api, active=False, description="Our best", refreshPolicy=manual)
        before = api.get(f"{BASE}/{segment_id}").json()

        # when it is renamed with a PUT that gives neither active, description, parts nor refreshPolicy
        response = api.put(f"{BASE}/{segment_id}", {"segment": {"name": "Renamed"}}, format="json")

        # then it stays inactive, keeps its description, parts and policy, and no run is queued
        assert response.status_code == 200, response.content
        after = api.get(f"{BASE}/{segment_id}").json()
        assert (after["name"], after["active"], after["description"]) == ("Renamed", False, "Our best")
        assert after["parts"] == before["parts"] and after["refreshPolicy"] == manual
        assert not SegmentRun.objects.exists()

    def test_put_may_still_clear_the_description_and_deactivate(self, api):
        segment_id = create(api, description="Our best")
        body = {"segment": {"name": "Regulars", "description": None, "active": False}}
        assert api.put(f"{BASE}/{segment_id}", body, format="json").status_code == 200
        after = api.get(f"{BASE}/{segment_id}").json()
        assert (after["active"], after["description"]) == (False, "")

    def test_activate_and_deactivate(self, api):
        segment_id = create(api, active=False)
        assert not SegmentRun.objects.exists()
        response = api.post(f"{BASE}/{segment_id}/activate")
        assert response.status_code == 204
        assert_response_matches("segments", "segmentPostActivate", response)
        assert SegmentRun.objects.get().trigger == "activated"
        response = api.post(f"{BASE}/{segment_id}/deactivate")
        assert response.status_code == 204
        assert Segment.objects.get().active is False
        assert SegmentRun.objects.get().status == "superseded"

    def test_refresh_runs_and_run_detail(self, api):
        seed_receipts(api)
        segment_id = create(api)
        run_all()
        response = api.post(f"{BASE}/{segment_id}/refresh")
        assert response.status_code == 202
        run_id = response.json()["runId"]
        run_all()
        run = api.get(f"{BASE}/{segment_id}/runs/{run_id}").json()
        assert (run["status"], run["trigger"], run["members"], run["added"], run["removed"]) == (
            "succeeded",
            "manual",
            4,
            0,
            0,
        )
        runs = api.get(f"{BASE}/{segment_id}/runs").json()
        assert [r["trigger"] for r in runs["items"]] == ["manual", "created"]
        assert api.get(f"{BASE}/{segment_id}/runs/00000000-0000-0000-0000-000000000000").status_code == 404


@pytest.mark.django_db(transaction=True)
class TestLists:
    def test_list_filters_sorts_and_pages(self, api):
        for name in ("Alpha", "beta", "Gamma"):
            create(api, name=name)
        response = api.get(f"{BASE}?_orderBy[name]=desc&_itemsOnPage=2")
        assert_response_matches("segments", "segmentGetList", response)
        body = response.json()
        assert [s["name"] for s in body["items"]] == ["Gamma", "beta"]
        assert body["total"] == {"all": 3, "filtered": 3, "estimated": False}
        assert isinstance(body["items"][0]["averageClv"], str)
        page2 = api.get(f"{BASE}?_orderBy[name]=desc&_itemsOnPage=2&_page=2").json()
        assert [s["name"] for s in page2["items"]] == ["Alpha"]
        assert [s["name"] for s in api.get(f"{BASE}?name=ET").json()["items"]] == ["beta"]
        assert api.get(f"{BASE}?active=false").json()["total"]["filtered"] == 0

    @pytest.mark.parametrize(
        ("query", "path"),
        [
            ("_page=0", "_page"),
            ("_itemsOnPage=51", "_itemsOnPage"),
            ("_itemsOnPage=x", "_itemsOnPage"),
            ("_orderBy[password]=asc", "_orderBy[password]"),
            ("_orderBy[name]=up", "_orderBy[name]"),
            ("active=maybe", "active"),
            ("customersCount=many", "customersCount"),
        ],
    )
    def test_bad_list_parameters_are_400_with_the_parameter(self, api, query, path):
        response = api.get(f"{BASE}?{query}")
        assert response.status_code == 400
        assert_response_matches("segments", "segmentGetList", response)
        assert [e["path"] for e in response.json()["errors"]] == [path]

    # both ways of reading members: walking customers (large segments) and joining members (small ones)
    @pytest.mark.parametrize("walk_customers_from", [0, 10**9])
    def test_members_with_filters_sorting_and_paging(self, api, monkeypatch, walk_customers_from):
        monkeypatch.setattr("segments.selectors.WALK_CUSTOMERS_FROM", walk_customers_from)
        seed_receipts(api)
        segment_id = create(api)
        run_all()
        response = api.get(f"{BASE}/{segment_id}/members?_orderBy[customerId]=desc&_itemsOnPage=3")
        assert_response_matches("segments", "segmentGetMembers", response)
        body = response.json()
        assert [m["customerId"] for m in body["items"]] == ["c3", "c2", "c1"]
        assert body["total"] == {"all": 4, "filtered": 4, "estimated": False}
        assert body["items"][0]["email"] == "c3@example.com" and body["items"][0]["calculatedAt"]
        filtered = api.get(f"{BASE}/{segment_id}/members?email=C1@").json()
        assert [m["customerId"] for m in filtered["items"]] == ["c1"]
        assert filtered["total"]["filtered"] == 1

    @pytest.mark.parametrize(("role", "status"), [("owner", 200), ("editor", 200), ("viewer", 403)])
    def test_members_personal_data_is_for_owners_and_editors_only(self, api, account, role, status):
        # given a calculated segment and a staff member's token
        from rest_framework.test import APIClient

        from loyalty.accounts import tokens
        from loyalty.accounts.services import staff_user_upsert

        seed_receipts(api)
        segment_id = create(api)
        run_all()
        user, _ = staff_user_upsert(account=account, username=f"u-{role}", role=role, password="pw-123456-x")
        token, _ = tokens.staff_access_token(user_id=user.pk, username=user.username)
        staff = APIClient()
        staff.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

        # when they list the members
        response = staff.get(f"{BASE}/{segment_id}/members")

        # then only owners and editors get them; a viewer gets a 403 in Open Loyalty's shape, and still the segment
        assert response.status_code == status
        if status == 403:
            assert response.json() == {"code": 403, "message": "Viewers may not list customers' personal data."}
            assert "c1@example.com" not in response.content.decode()
        else:
            assert {m["email"] for m in response.json()["items"]} >= {"c1@example.com"}
        assert staff.get(f"{BASE}/{segment_id}").status_code == 200

    def test_members_of_a_segment_never_calculated_are_empty(self, api):
        segment_id = create(api)
        assert api.get(f"{BASE}/{segment_id}/members").json()["items"] == []

    @pytest.mark.parametrize("resource", ["reward", "achievement", "campaign"])
    def test_associations_without_such_resources_are_empty(self, api, resource):
        segment_id = create(api)
        response = api.get(f"{BASE}/{segment_id}/association/{resource}")
        assert_response_matches("segments", "_getSegmentAssociation", response)
        assert response.json() == {"items": [], "total": {"all": 0, "estimated": False}}


@pytest.mark.django_db
class TestValidation:
    @pytest.mark.parametrize(
        ("segment", "path", "code"),
        [
            ({"parts": []}, "name", "required"),
            ({"name": "x" * 256}, "name", "too_long"),
            ({"name": "n", "active": "yes"}, "active", "invalid"),
            ({"name": "n", "parts": "all"}, "parts", "invalid"),
            ({"name": "n", "parts": [{"criteria": []}]}, "parts[0].criteria", "required"),
            (
                {"name": "n", "parts": [{"criteria": [{"type": "customer_in_tiers", "tierIds": ["x"]}]}]},
                "parts[0].criteria[0].type",
                "unsupported_criterion",
            ),
            (
                {"name": "n", "parts": [{"criteria": [{"type": "province"}]}]},
                "parts[0].criteria[0].type",
                "unsupported_criterion",
            ),
            (
                {"name": "n", "parts": [{"criteria": [{"type": "teleport"}]}]},
                "parts[0].criteria[0].type",
                "invalid_choice",
            ),
            (
                {"name": "n", "parts": [{"criteria": [{"type": "transaction_count"}]}]},
                "parts[0].criteria[0].min",
                "required",
            ),
            (
                {"name": "n", "parts": [{"criteria": [{"type": "transaction_count", "min": 5, "max": 2}]}]},
                "parts[0].criteria[0].max",
                "range",
            ),
            (
                {"name": "n", "parts": [{"criteria": [{"type": "transaction_count", "min": -1}]}]},
                "parts[0].criteria[0].min",
                "too_small",
            ),
            (
                {
                    "name": "n",
                    "parts": [
                        {"criteria": [{"type": "transaction_count", "min": 1}]},
                        {"criteria": [{"type": "average_transaction_amount", "fromAmount": "abc"}]},
                    ],
                },
                "parts[1].criteria[0].fromAmount",
                "invalid",
            ),
            (
                {
                    "name": "n",
                    "parts": [{"criteria": [{"type": "average_transaction_amount", "fromAmount": "1.00001"}]}],
                },
                "parts[0].criteria[0].fromAmount",
                "invalid",
            ),
            (
                {
                    "name": "n",
                    "parts": [
                        {"criteria": [{"type": "purchase_period", "fromDate": "2024-13-01", "toDate": "2024-12-01"}]}
                    ],
                },
                "parts[0].criteria[0].fromDate",
                "invalid",
            ),
            (
                {
                    "name": "n",
                    "parts": [
                        {
                            "criteria": [
                                {"type": "purchase_period", "fromDate": "2024-01-01T00:00:00", "toDate": "2024-12-01"}
                            ]
                        }
                    ],
                },
                "parts[0].criteria[0].fromDate",
                "invalid",
            ),
            (
                {
                    "name": "n",
                    "parts": [
                        {"criteria": [{"type": "transaction_percent_in_channel", "channelId": "s1", "percent": 101}]}
                    ],
                },
                "parts[0].criteria[0].percent",
                "too_large",
            ),
            (
                {
                    "name": "n",
                    "parts": [{"criteria": [{"type": "anniversary", "anniversaryType": "wedding", "days": 3}]}],
                },
                "parts[0].criteria[0].anniversaryType",
                "invalid_choice",
            ),
            (
                {"name": "n", "parts": [{"criteria": [{"type": "bought_skus", "skuIds": []}]}]},
                "parts[0].criteria[0].skuIds",
                "invalid",
            ),
            (
                {"name": "n", "parts": [{"criteria": [{"type": "bought_labels", "labels": [{"key": "color"}]}]}]},
                "parts[0].criteria[0].labels[0].value",
                "required",
            ),
            (
                {
                    "name": "n",
                    "parts": [{"criteria": [{"type": "marketing_consent", "channel": "email", "consent": "yes"}]}],
                },
                "parts[0].criteria[0].consent",
                "invalid",
            ),
            (
                {
                    "name": "n",
                    "parts": [{"criteria": [{"type": "last_transaction_between_days", "fromDays": 9, "toDays": 3}]}],
                },
                "parts[0].criteria[0].toDays",
                "range",
            ),
            (
                {"name": "n", "parts": [{"criteria": [{"type": "customer_csv_list", "csv": "email\n"}]}]},
                "parts[0].criteria[0].csv",
                "required",
            ),
        ],
    )
    def test_each_problem_is_a_400_with_its_path(self, api, segment, path, code):
        response = api.post(BASE, {"segment": segment}, format="json")
        assert response.status_code == 400, response.content
        assert_response_matches("segments", "segmentPost", response)
        errors = response.json()["errors"]
        assert (errors[0]["path"], errors[0]["code"]) == (path, code), errors
        assert not Segment.objects.exists()

    def test_every_problem_is_listed(self, api):
        segment = {"parts": [{"criteria": [{"type": "transaction_count", "min": "x"}, {"type": "gender"}]}]}
        errors = api.post(BASE, {"segment": segment}, format="json").json()["errors"]
        assert {e["path"] for e in errors} == {"name", "parts[0].criteria[0].min", "parts[0].criteria[1].genders"}

    def test_a_field_the_criterion_does_not_declare_is_a_400_naming_it(self, api):
        # given a transaction_count (lifetime) criterion with a period it does not read
        parts = [
            {"criteria": [{"type": "gender", "genders": ["female"]}]},
            {
                "criteria": [
                    {"type": "age", "min": 18},
                    {"type": "transaction_count", "min": 2, "fromDate": "2025-01-01"},
                ]
            },
        ]

        # when it is created, or previewed
        created = api.post(BASE, {"segment": {"name": "n", "parts": parts}}, format="json")
        previewed = api.post(f"{BASE}/preview", {"segment": {"parts": parts}}, format="json")

        # then both are 400 naming the field, in Open Loyalty's shape, and nothing is saved
        for response in (created, previewed):
            assert response.status_code == 400, response.content
            (error,) = response.json()["errors"]
            assert (error["path"], error["code"]) == ("parts[1].criteria[1].fromDate", "unknown_field")
        assert_response_matches("segments", "segmentPost", created)
        assert not Segment.objects.exists()

    def test_the_fields_the_api_itself_returns_are_accepted_back(self, api):
        # given a segment read back with its ids (and a customer list's matched/unmatched report)
        parts = [{"criteria": [{"type": "transaction_count", "min": 2}, {"type": "customer_list", "customers": ["x"]}]}]
        segment_id = create(api, parts=parts)
        read = api.get(f"{BASE}/{segment_id}").json()

        # when the parts are sent back as they were read
        response = api.put(f"{BASE}/{segment_id}", {"segment": {"name": "n", "parts": read["parts"]}}, format="json")

        # then they are accepted
        assert response.status_code == 200, response.content

    def test_missing_envelope(self, api):
        response = api.post(BASE, {"name": "no envelope"}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["path"] == "segment"

    def test_unknown_and_foreign_segments_are_404(self, api, api_for, other_account):
        other = (
            api_for(other_account)
            .post("/api/T00000099/segment", {"segment": {"name": "theirs"}}, format="json")
            .json()["segmentId"]
        )
        for path in ("", "/members", "/runs", "/association/reward"):
            response = api.get(f"{BASE}/{other}{path}")
            assert response.status_code == 404, path
            assert response.json()["code"] == 404
        assert api.put(f"{BASE}/{other}", {"segment": {"name": "mine now"}}, format="json").status_code == 404
        assert api.delete(f"{BASE}/{other}").status_code == 404
        assert api.post(f"{BASE}/{other}/activate").status_code == 404
        assert Segment.objects.get(uuid=other).name == "theirs"


@pytest.mark.django_db
class TestPreviewAndLists:
    def test_preview_counts_the_whole_definition_and_each_part(self, api):
        seed_receipts(api)
        parts = [
            {"criteria": [{"type": "bought_skus", "skuIds": ["sku0"]}]},
            {"criteria": [{"type": "transaction_amount", "fromAmount": 200}, {"type": "transaction_count", "max": 2}]},
        ]
        response = api.post(f"{BASE}/preview", {"segment": {"parts": parts}}, format="json")
        assert response.status_code == 200
        body = response.json()
        # sku0 on receipts 0,3,6,9 → c0,c3,c2,c1; amounts ≥ 200.00: c2, c3
        assert [p["customersCount"] for p in body["parts"]] == [4, 2]
        assert body["customersCount"] == 2
        assert not Segment.objects.exists()

    def test_preview_of_a_part_that_matches_nobody_counts_zero(self, api):
        # given a part Django compiles to "nothing" (a list of unknown customers) next to a real one
        seed_receipts(api)
        parts = [
            {"criteria": [{"type": "customer_list", "customers": ["ghost@example.com"]}]},
            {"criteria": [{"type": "bought_skus", "skuIds": ["sku0"]}]},
        ]

        # when previewed
        response = api.post(f"{BASE}/preview", {"segment": {"parts": parts}}, format="json")

        # then that part and the whole count zero, and the other part keeps its count
        assert response.status_code == 200
        body = response.json()
        assert [p["customersCount"] for p in body["parts"]] == [0, 4]
        assert body["customersCount"] == 0

    @pytest.mark.django_db(transaction=True)  # the segment is calculated (a run's own transaction)
    def test_customer_list_reports_unmatched_entries(self, api):
        seed_receipts(api)
        segment_id = create(
            api,
            parts=[
                {"criteria": [{"type": "customer_list", "customers": ["c1", "C2@example.com", "ghost@example.com"]}]}
            ],
        )
        run_all()
        body = api.get(f"{BASE}/{segment_id}").json()
        criterion = body["parts"][0]["criteria"][0]
        assert (criterion["matched"], criterion["unmatched"]) == (2, ["ghost@example.com"])
        assert "_customerPks" not in criterion
        assert body["customersCount"] == 2

    @pytest.mark.django_db(transaction=True)  # the segment is calculated (a run's own transaction)
    def test_customer_csv_list(self, api):
        seed_receipts(api)
        csv = "customer_id,note\nc0,first\nc3@example.com,x\n\nnobody\n"
        segment_id = create(api, parts=[{"criteria": [{"type": "customer_csv_list", "csv": csv}]}])
        run_all()
        body = api.get(f"{BASE}/{segment_id}").json()
        assert body["customersCount"] == 2
        assert body["parts"][0]["criteria"][0]["unmatched"] == ["nobody"]
