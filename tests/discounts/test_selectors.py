"""The discounts selectors on their own: lookups that answer NotFound, paging, a customer's and the public rules,
and the search cursor; and the list APIs' query counts, pinned (a list never costs a query per row)."""

from __future__ import annotations

import uuid

import pytest

from discounts import selectors, services
from discounts.errors import InvalidCursor, RuleNotFound
from discounts.filters import PublicRuleFilter
from loyalty.core.errors import NotFound
from tests.discounts.factories import ACTOR, discount, give, rule

BASE = "/v1/accounts/T00000001/discounts"
ROWS = 5


@pytest.mark.django_db
class TestLookups:
    def test_rule_get_finds_a_live_rule_of_the_account(self, account):
        made = rule(account)
        assert selectors.rule_get(account=account, rule_id=str(made.pk)) == made
        assert selectors.rule_find(account=account, rule_id=str(made.pk)) == made

    @pytest.mark.parametrize("kind", ["malformed", "unknown", "foreign", "deleted"])
    def test_anything_else_is_not_found(self, account, other_account, kind):
        made = rule(other_account if kind == "foreign" else account)
        if kind == "deleted":
            services.rule_delete(account=account, rule=made, actor=ACTOR)
        rule_id = {"malformed": "not-a-uuid", "unknown": str(uuid.uuid4())}.get(kind, str(made.pk))
        assert selectors.rule_find(account=account, rule_id=rule_id) is None
        with pytest.raises(RuleNotFound) as caught:
            selectors.rule_get(account=account, rule_id=rule_id)
        assert isinstance(caught.value, NotFound) and caught.value.status == 404

    def test_a_push_of_another_segment_is_not_found(self, account):
        with pytest.raises(NotFound):
            selectors.push_run_get(segment=None, push_id="not-a-uuid")

    def test_rule_was_given_counts_refs_taken_back(self, account):
        made = rule(account)
        assert not selectors.rule_was_given(account=account, rule=made)
        give(account, made, "c1")
        services.rule_customers_take(account=account, rule=made, customer_ids=None, actor=ACTOR)
        assert selectors.rule_was_given(account=account, rule=made)
        assert selectors.rule_live_refs_count(account=account, rule=made) == 0


@pytest.mark.django_db
class TestCustomersAndPublic:
    def test_a_customer_sees_their_rules_and_those_given_to_everyone(self, account):
        mine, everyones, someone_elses = rule(account, name="mine"), rule(account, name="all"), rule(account)
        give(account, mine, "c1")
        give(account, everyones, "*")
        give(account, someone_elses, "c2")
        refs = selectors.customer_rules(account=account, customer_id="c1", limit=10, starting_after=None)
        assert {ref.rule.name for ref in refs} == {"mine", "all"}

    def test_public_rules_are_those_given_to_everyone_and_not_private(self, account):
        public, private = rule(account, name="public"), rule(account, name="private", private=True)
        give(account, public, "*")
        give(account, private, "*")
        filters = PublicRuleFilter({})
        assert filters.is_valid()
        refs = selectors.public_rules(account=account, filters=filters, limit=10, starting_after=None)
        assert [ref.rule.name for ref in refs] == ["public"]
        assert selectors.public_rule_get(account=account, rule_id=str(public.pk)).rule == public
        with pytest.raises(NotFound):
            selectors.public_rule_get(account=account, rule_id=str(private.pk))


class TestSearchCursor:
    def test_a_cursor_round_trips(self):
        key = ("c1", "sku-1", "2024", str(uuid.uuid4()))
        assert selectors.decode_cursor(selectors.encode_cursor(key)) == key

    @pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", selectors.encode_cursor(("a", "b"))])
    def test_anything_else_is_an_invalid_query(self, cursor):
        with pytest.raises(InvalidCursor) as caught:
            selectors.decode_cursor(cursor)
        assert caught.value.message == "The query is invalid."
        assert [(f.path, f.code) for f in caught.value.field_errors] == [("starting_after", "invalid")]


# --- query counts of the list APIs ------------------------------------------------------------------------------


@pytest.fixture
def rules(account):
    made = [rule(account, name=f"rule {n}") for n in range(ROWS)]
    for n, each in enumerate(made):
        give(account, each, "*", *(f"c{n}-{m}" for m in range(ROWS)), "shared")
    return made


def _counted(api, django_assert_num_queries, url: str, queries: int) -> list:
    api.get(url)  # the first request of a client records its last use: not what is measured
    with django_assert_num_queries(queries):
        response = api.get(url)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
class TestListQueryCounts:
    """Authentication (the client is active, read with its account), then the list itself: one query however
    long."""

    def test_rules(self, api, rules, django_assert_num_queries):
        body = _counted(api, django_assert_num_queries, f"{BASE}/rules?limit=100&include=statistics", 2)
        assert len(body) == ROWS

    def test_a_rules_customers(self, api, rules, django_assert_num_queries):
        # the rule, then its refs
        body = _counted(api, django_assert_num_queries, f"{BASE}/rules/{rules[0].pk}/customers?limit=1000", 3)
        assert len(body) == ROWS + 2

    def test_public_rules(self, api, rules, django_assert_num_queries):
        body = _counted(api, django_assert_num_queries, f"{BASE}/public/rules?limit=100", 2)
        assert len(body) == ROWS

    def test_a_customers_rules(self, api, rules, django_assert_num_queries):
        body = _counted(api, django_assert_num_queries, f"{BASE}/customers/shared/rules?limit=100", 2)
        assert len(body) == 2 * ROWS


def test_the_factories_document_is_valid():
    assert discount()["reward"]["type"] == "discount_amount"


@pytest.fixture
def pushed_segment(account):
    from discounts.pushes import segment_push_start
    from segments.services.segments import segment_create

    segment = segment_create(
        account=account,
        data={"name": "Twice", "parts": [{"criteria": [{"type": "transaction_count", "min": 2}]}]},
        actor="t",
    )
    for each in [rule(account, name=f"rule {n}") for n in range(ROWS)]:
        segment_push_start(account=account, segment=segment, rule=each, mode="sync", remove_departed=False, actor="t")
    return segment


@pytest.mark.django_db
class TestSegmentListQueryCounts:
    """Authentication (with the account), the segment, then a count and one page: however many pushes and rules."""

    def test_a_segments_pushes(self, api, pushed_segment, django_assert_num_queries):
        url = f"/api/T00000001/segment/{pushed_segment.uuid}/pushes?perPage=50"
        body = _counted(api, django_assert_num_queries, url, 4)
        assert len(body["items"]) == ROWS

    def test_the_rules_a_segment_feeds(self, api, pushed_segment, django_assert_num_queries):
        url = f"/api/T00000001/segment/{pushed_segment.uuid}/association/discount_rule?perPage=50"
        body = _counted(api, django_assert_num_queries, url, 4)
        assert len(body["items"]) == ROWS
