"""Campaigns over the API: every answer checked against the spec; states, undelete, rules untouched, privacy."""

from __future__ import annotations

import pytest

from discounts.models import Campaign, DiscountRule
from tests.discounts.factories import give, rule
from tests.spec import assert_response_matches

BASE = "/v1/accounts/T00000001/discounts"


def ok(response, operation: str) -> dict | list:
    assert response.status_code == 200, response.content
    assert_response_matches("discounts", operation, response)
    return response.json()


def create(api, **body) -> dict:
    return ok(api.post(f"{BASE}/campaigns", {"name": "Summer", **body}, format="json"), "aid_discounts_campaigns_post")


def public_names(api, query: str = "") -> list[str]:
    return [r["name"] for r in ok(api.get(f"{BASE}/public/rules{query}"), "aid_discounts_public_get")]


@pytest.mark.django_db
class TestCampaigns:
    def test_create_get_list_round_trip(self, api):
        created = create(api, campaign_id="summer-26", description="Beach", metadata={"sponsor": "Solo"})

        assert (created["campaign_id"], created["name"], created["private"]) == ("summer-26", "Summer", False)
        assert created["metadata"] == {"sponsor": "Solo"} and "deleted_at" not in created
        fetched = ok(api.get(f"{BASE}/campaigns/summer-26"), "aid_discounts_campaigns_campaign_id_get")
        assert fetched == created
        listed = ok(api.get(f"{BASE}/campaigns"), "aid_discounts_campaigns_get")
        assert [c["campaign_id"] for c in listed] == ["summer-26"]

    def test_without_a_campaign_id_the_key_is_the_id(self, api):
        created = create(api)

        assert created["campaign_id"] == created["id"]
        assert ok(api.get(f"{BASE}/campaigns/{created['id']}"), "aid_discounts_campaigns_campaign_id_get")

    def test_a_used_key_is_refused_even_when_deleted(self, api):
        create(api, campaign_id="k")
        api.delete(f"{BASE}/campaigns/k")

        response = api.post(f"{BASE}/campaigns", {"name": "Again", "campaign_id": "k"}, format="json")

        assert response.status_code == 400
        assert_response_matches("discounts", "aid_discounts_campaigns_post", response)
        assert Campaign.objects.count() == 1

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": ""},
            {"name": 5},
            {"name": "x", "private": "yes"},
            {"name": "x", "campaign_id": " padded"},
            {"name": "x", "campaign_id": "a/b"},
            {"name": "x", "metadata": []},
            {"name": "x\u0000"},
            [],
        ],
    )
    def test_bad_bodies_are_400_and_write_nothing(self, api, body):
        response = api.post(f"{BASE}/campaigns", body, format="json")

        assert response.status_code == 400, response.content
        assert_response_matches("discounts", "aid_discounts_campaigns_post", response)
        assert not Campaign.objects.exists()

    def test_states_filter_the_list(self, api):
        create(api, campaign_id="pub")
        create(api, campaign_id="priv", private=True)
        create(api, campaign_id="gone")
        ok(api.delete(f"{BASE}/campaigns/gone"), "aid_discounts_campaigns_campaign_id_delete")

        def keys(query: str) -> list[str]:
            return [c["campaign_id"] for c in ok(api.get(f"{BASE}/campaigns{query}"), "aid_discounts_campaigns_get")]

        assert keys("") == ["priv", "pub"]
        assert keys("?state=all") == ["gone", "priv", "pub"]
        assert keys("?state=public") == ["pub"]
        assert keys("?state=private") == ["priv"]
        assert keys("?state=deleted") == ["gone"]
        assert keys("?limit=1") == ["priv"]
        first = ok(api.get(f"{BASE}/campaigns?limit=1"), "aid_discounts_campaigns_get")[0]
        assert keys(f"?limit=1&starting_after={first['id']}") == ["pub"]
        assert api.get(f"{BASE}/campaigns?state=open").status_code == 400

    def test_put_updates_and_undeletes(self, api):
        create(api, campaign_id="c1")
        deleted = ok(api.delete(f"{BASE}/campaigns/c1"), "aid_discounts_campaigns_campaign_id_delete")
        assert deleted["deleted_at"] and deleted["deleted_by"]
        assert api.delete(f"{BASE}/campaigns/c1").status_code == 404

        updated = ok(
            api.put(f"{BASE}/campaigns/c1", {"name": "Autumn", "private": True}, format="json"),
            "aid_discounts_campaigns_campaign_id_put",
        )

        assert (updated["name"], updated["private"], updated["description"]) == ("Autumn", True, "")
        assert "deleted_at" not in updated
        assert [c["campaign_id"] for c in api.get(f"{BASE}/campaigns").json()] == ["c1"]

    def test_put_cannot_change_the_key_or_take_bad_values(self, api):
        create(api, campaign_id="c1")

        for body in ({"campaign_id": "c2"}, {"private": 1}, {"name": None}):
            response = api.put(f"{BASE}/campaigns/c1", body, format="json")
            assert response.status_code == 400, body
            assert_response_matches("discounts", "aid_discounts_campaigns_campaign_id_put", response)
        assert api.put(f"{BASE}/campaigns/nope", {"name": "x"}, format="json").status_code == 404
        assert Campaign.objects.get().name == "Summer"

    def test_deleting_a_campaign_leaves_its_rules_alone(self, api, account):
        create(api, campaign_id="c1")
        kept = rule(account, campaign_id="c1")
        give(account, kept, "*")

        api.delete(f"{BASE}/campaigns/c1")

        kept.refresh_from_db()
        assert (kept.deleted_at, kept.active, kept.campaign_id) == (None, True, "c1")
        assert public_names(api, "?campaign_id=c1") == [kept.name]

    def test_a_private_campaign_is_left_out_of_public_rules_filtered_by_it(self, api, account):
        create(api, campaign_id="open")
        create(api, campaign_id="hidden", private=True)
        for key, name in (("open", "Open"), ("hidden", "Hidden")):
            give(account, rule(account, name=name, campaign_id=key), "*")
        give(account, rule(account, name="Plain"), "*")

        assert public_names(api, "?campaign_id=open") == ["Open"]
        assert public_names(api, "?campaign_id=hidden") == []
        assert public_names(api, "?campaign_id=open,hidden") == ["Open"]
        # unfiltered, the spec says nothing: the rules are public as rules
        assert sorted(public_names(api)) == ["Hidden", "Open", "Plain"]
        # and a campaign made public again shows them
        api.put(f"{BASE}/campaigns/hidden", {"private": False}, format="json")
        assert public_names(api, "?campaign_id=hidden") == ["Hidden"]
        assert DiscountRule.objects.count() == 3

    def test_list_queries_are_bounded(self, api, django_assert_max_num_queries):
        for n in range(15):
            create(api, campaign_id=f"c{n}")
        with django_assert_max_num_queries(6):
            assert len(api.get(f"{BASE}/campaigns?limit=100").json()) == 15


@pytest.mark.django_db
class TestTenancy:
    def test_another_accounts_campaign_is_404_everywhere(self, api, other_account, api_for):
        foreign = api_for(other_account)
        foreign.post(
            f"/v1/accounts/{other_account.aid}/discounts/campaigns", {"name": "x", "campaign_id": "f"}, format="json"
        )

        assert api.get(f"{BASE}/campaigns").json() == []
        for method in ("get", "put", "delete"):
            response = getattr(api, method)(f"{BASE}/campaigns/f", {"name": "mine"}, format="json")
            assert response.status_code == 404, method
        assert Campaign.objects.get().name == "x"

    def test_scopes(self, api_for, account):
        reader = api_for(account, ["read:discounts"])
        writer = api_for(account, ["write:discounts"])
        other = api_for(account, ["admin:receipts", "admin:automations"])

        assert writer.post(f"{BASE}/campaigns", {"name": "x", "campaign_id": "c"}, format="json").status_code == 200
        assert reader.get(f"{BASE}/campaigns/c").status_code == 200
        assert reader.post(f"{BASE}/campaigns", {"name": "y"}, format="json").status_code == 403
        assert reader.delete(f"{BASE}/campaigns/c").status_code == 403
        assert writer.get(f"{BASE}/campaigns").status_code == 403
        forbidden = other.get(f"{BASE}/campaigns")
        assert forbidden.status_code == 403 and forbidden.json()["error"]["message"]
