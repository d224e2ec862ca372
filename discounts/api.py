"""Dintero Discounts API views: rules, their customers, search, public rules and a customer's rules.

Claims, a customer's single ref and a rule's usages are in `discounts/api_claims.py`; available_for_receipt in
`api_till.py`; campaigns in `api_campaigns.py`; events and automations in `api_automations.py`.
"""

from __future__ import annotations

from typing import Any

from django_filters import FilterSet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from discounts import documents, selectors, services
from discounts.errors import DiscountValidationError
from discounts.filters import PublicRuleFilter, RefFilter, RefState, RuleFilter, RuleState
from discounts.selectors.statistics import ref_statistics, rule_statistics
from loyalty.api.spec_scopes import x_scopes
from loyalty.api.swagger import Errors
from loyalty.api.views import DinteroAPIView

RULES = ["discount rules"]
CUSTOMERS = ["discount rule customers"]
# A search expands rules given to `*` for every customer it names; this bounds that work.
SEARCH_MAX_CUSTOMERS = 1000


def scopes(operation_id: str) -> tuple[str, ...]:
    return x_scopes(documents.SPEC_PATH, operation_id)


def _validation_error(message: str, errors: Errors) -> DiscountValidationError:
    return DiscountValidationError(message, errors)


def _query(serializer_class, request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _filters(filterset_class: type[FilterSet], request) -> FilterSet:
    filterset = filterset_class(request.query_params)
    if not filterset.is_valid():
        errors = [(field, str(message)) for field, messages in filterset.errors.items() for message in messages]
        raise _validation_error("The query is invalid.", errors)
    return filterset


def _body(operation_id: str, request) -> dict[str, Any]:
    errors = documents.validate_body(operation_id, request.data)
    if errors:
        raise _validation_error("The body is invalid.", errors)
    return request.data


def _paging(query: dict[str, Any]) -> dict[str, Any]:
    return {"limit": query["limit"], "starting_after": query.get("starting_after")}


def _customer_id(customer_id: str) -> str:
    errors = documents.customer_ids_problems([customer_id], "customer_id")
    if errors:
        raise _validation_error("The customer id is invalid.", [("customer_id", m) for _, m in errors])
    return customer_id


class QueryListField(serializers.ListField):
    """A repeated query parameter, or one with comma-separated values (Swagger 2.0's default)."""

    def get_value(self, dictionary):
        if self.field_name not in dictionary:
            return serializers.empty
        return [part for value in dictionary.getlist(self.field_name) for part in value.split(",") if part]


class PageQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)
    starting_after = serializers.UUIDField(required=False)


class RefPageQuery(PageQuery):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)


class RuleListQuery(PageQuery):
    include = QueryListField(child=serializers.ChoiceField(choices=["statistics"]), required=False)

    def validate(self, data):
        if "starting_after" in data and self.initial_data.get("since_datetime"):
            # The spec: a since_datetime reader pages by moving since_datetime on, not with a cursor.
            raise serializers.ValidationError({"starting_after": "cannot be combined with since_datetime"})
        return data


class SearchQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    starting_after = serializers.CharField(required=False, max_length=4096)


def _page(limit_max: int, cursor: str) -> list[OpenApiParameter]:
    return [
        OpenApiParameter("limit", int, description=f"1 to {limit_max}, default 10"),
        OpenApiParameter("starting_after", str, description=cursor),
    ]


def _list(name: str) -> OpenApiParameter:
    return OpenApiParameter(name, str, many=True, description="Repeat the parameter or separate values by commas")


DISCOUNT = {"application/json": {"type": "object", "description": "A Discount (see the Dintero spec)"}}
CUSTOMERS_BODY = {
    "application/json": {
        "type": "object",
        "properties": {
            "customers": {"type": "array", "items": {"type": "string"}},
            "offering_constraint_id": {"type": "string"},
        },
        "required": ["customers"],
    }
}


class RulesView(DinteroAPIView):
    required_scopes = {"GET": scopes("aid_discounts_get"), "POST": scopes("aid_discounts_post")}

    @extend_schema(
        operation_id="aid_discounts_get",
        summary="List discount rules, newest first",
        description="Without `state`, deleted rules are left out. `since_datetime` lists changes (deletions too), "
        "oldest first; page by moving it to the last `updated_at` seen.",
        parameters=[
            *_page(100, "The id of the last rule of the previous page"),
            OpenApiParameter("state", str, enum=RuleState.values),
            _list("campaign_id"),
            OpenApiParameter("since_datetime", OpenApiTypes.DATETIME),
            OpenApiParameter(
                "purchase_from", OpenApiTypes.DATETIME, description="requirement.purchase_from at or after"
            ),
            OpenApiParameter("purchase_to", OpenApiTypes.DATETIME, description="requirement.purchase_to at or before"),
            OpenApiParameter("include", str, many=True, enum=["statistics"]),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=RULES,
    )
    def get(self, request, aid):
        query = _query(RuleListQuery, request)
        rules = selectors.rule_list(
            account=self.account,
            filters=_filters(RuleFilter, request),
            **_paging(query),
        )
        if "statistics" not in query.get("include", ()):
            return Response([selectors.rule_to_api(rule) for rule in rules])
        statistics = rule_statistics(account_id=self.account.pk, rules=rules)
        return Response([selectors.rule_to_api(rule, statistics=statistics[rule.pk]) for rule in rules])

    @extend_schema(
        operation_id="aid_discounts_post",
        summary="Create a discount rule",
        description="The Discount is stored as sent (unknown properties included); `type` is derived from "
        "requirement.item. A 400 lists every problem with its path.",
        request=DISCOUNT,
        responses={200: OpenApiTypes.OBJECT},
        tags=RULES,
    )
    def post(self, request, aid):
        rule = services.rule_create(account=self.account, document=request.data, actor=self.principal.actor)
        return Response(selectors.rule_to_api(rule))


class RuleView(DinteroAPIView):
    required_scopes = {
        "GET": scopes("aid_discounts_did_get"),
        "PUT": scopes("aid_discounts_did_put"),
        "DELETE": scopes("aid_discounts_did_delete"),
    }

    @extend_schema(
        operation_id="aid_discounts_did_get",
        summary="A discount rule",
        responses={200: OpenApiTypes.OBJECT},
        tags=RULES,
    )
    def get(self, request, aid, did):
        rule = selectors.rule_get(account=self.account, rule_id=did)
        body = selectors.rule_to_api(rule, statistics=True)
        # our extension: the segments this rule is kept in sync with (the other side of association/discount_rule)
        body["source_segments"] = [
            {"segment_id": str(link.segment.uuid), "name": link.segment.name, "remove_departed": link.remove_departed}
            for link in selectors.push_links_for_rule(rule=rule)
        ]
        return Response(body)

    @extend_schema(
        operation_id="aid_discounts_did_put",
        summary="Update a discount rule",
        description="Properties sent replace the stored ones (requirement and reward merge one level deep). "
        "requirement.purchase_to can only move later; requirement.purchase_from and reward (but reward.base) "
        "cannot be updated (resending their current values is accepted); type is read-only.",
        request=DISCOUNT,
        responses={200: OpenApiTypes.OBJECT},
        tags=RULES,
    )
    def put(self, request, aid, did):
        rule = selectors.rule_get(account=self.account, rule_id=did)
        rule = services.rule_update(
            account=self.account,
            rule=rule,
            changes=request.data,
            actor=self.principal.actor,
            start_and_reward_fixed=True,
        )
        return Response(selectors.rule_to_api(rule, statistics=True))

    @extend_schema(
        operation_id="aid_discounts_did_delete",
        summary="Delete a discount rule",
        description="Soft delete: the rule answers 404 from then on; its refs are kept.",
        responses={200: OpenApiTypes.OBJECT},
        tags=RULES,
    )
    def delete(self, request, aid, did):
        rule = selectors.rule_get(account=self.account, rule_id=did)
        rule = services.rule_delete(account=self.account, rule=rule, actor=self.principal.actor)
        return Response(selectors.rule_to_api(rule, statistics=True))


class RuleCustomersView(DinteroAPIView):
    required_scopes = {
        "GET": scopes("aid_discounts_did_customers_get"),
        "POST": scopes("aid_discounts_did_customers_post"),
        "DELETE": scopes("aid_discounts_did_customers_delete"),
    }

    @extend_schema(
        operation_id="aid_discounts_did_customers_get",
        summary="The customers (refs) a rule was given to, in the order given",
        description="A deleted rule keeps its refs: they stay listable here.",
        parameters=[
            *_page(1000, "The id of the last ref of the previous page"),
            OpenApiParameter("state", str, enum=RefState.values, description="Default: refs not taken back"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=CUSTOMERS,
    )
    def get(self, request, aid, did):
        query = _query(RefPageQuery, request)
        rule = selectors.rule_get_for_refs(account=self.account, rule_id=did)
        refs = selectors.rule_refs(
            account=self.account,
            rule=rule,
            filters=_filters(RefFilter, request),
            **_paging(query),
        )
        return Response([selectors.ref_to_api(ref) for ref in refs])

    @extend_schema(
        operation_id="aid_discounts_did_customers_post",
        summary="Give a rule to customers",
        description="`*` gives it to every purchase with a customer id, `/` to purchases without one. Giving "
        "is idempotent (see offering_constraint_id). Up to 100,000 customers per call.",
        request=CUSTOMERS_BODY,
        responses={200: OpenApiTypes.OBJECT},
        tags=CUSTOMERS,
    )
    def post(self, request, aid, did):
        rule = selectors.rule_get(account=self.account, rule_id=did)
        body = _body("aid_discounts_did_customers_post", request)
        services.rule_customers_give(
            account=self.account,
            rule=rule,
            customer_ids=body["customers"],
            offering_constraint_id=body.get("offering_constraint_id"),
            actor=self.principal.actor,
        )
        return Response(selectors.rule_to_api(rule, statistics=True))

    @extend_schema(
        operation_id="aid_discounts_did_customers_delete",
        summary="Take a rule back from customers",
        description="`*` among the customers takes it back from every customer id (their refs and the `*` ref); "
        "the `/` ref (purchases without a customer id) is taken back only when `/` is named.",
        request=CUSTOMERS_BODY,
        responses={200: OpenApiTypes.OBJECT},
        tags=CUSTOMERS,
    )
    def delete(self, request, aid, did):
        rule = selectors.rule_get(account=self.account, rule_id=did)
        customers = _body("aid_discounts_did_customers_delete", request)["customers"]
        services.rule_customers_take_from(
            account=self.account, rule=rule, customer_ids=customers, actor=self.principal.actor
        )
        return Response(selectors.rule_to_api(rule, statistics=True))


class RuleSearchView(DinteroAPIView):
    required_scopes = {"POST": scopes("aid_discounts_rules_search_post")}

    @extend_schema(
        operation_id="aid_discounts_rules_search_post",
        summary="Search the item rules customers can use now, by item id or group id",
        parameters=_page(1000, "starting_after of the previous result"),
        request={"application/json": {"type": "object"}},
        responses={200: OpenApiTypes.OBJECT},
        tags=RULES,
    )
    def post(self, request, aid):
        query = _query(SearchQuery, request)
        body = _body("aid_discounts_rules_search_post", request)
        customers = {customer for entry in body["query"] for customer in entry["customer_id"]}
        if len(customers) > SEARCH_MAX_CUSTOMERS:
            raise _validation_error(
                "The search is too wide.", [("query", f"must name at most {SEARCH_MAX_CUSTOMERS} customers in all")]
            )
        cursor = selectors.decode_cursor(query["starting_after"]) if "starting_after" in query else None
        page = selectors.rules_search(
            account=self.account,
            query=body["query"],
            group_by=body["group_by"],
            includes=body.get("includes"),
            limit=query["limit"],
            starting_after=cursor,
        )
        result: dict[str, Any] = {"data": page.data}
        if page.starting_after:
            result["starting_after"] = page.starting_after
        return Response(result)


class PublicRulesView(DinteroAPIView):
    required_scopes = {"GET": scopes("aid_discounts_public_get")}

    @extend_schema(
        operation_id="aid_discounts_public_get",
        summary="Rules given to everyone, for public readers",
        description="Not private, live, active, visible now. Metadata keys prefixed `dintero:exclude:public:` are "
        "left out. One entry per public ref; page with the last `ref_id`.",
        parameters=[
            *_page(100, "The ref_id of the last entry of the previous page"),
            OpenApiParameter("no_customer_id", bool, description="Rules given to `/` instead of `*`"),
            _list("campaign_id"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=RULES,
    )
    def get(self, request, aid):
        query = _query(PageQuery, request)
        refs = selectors.public_rules(
            account=self.account,
            filters=_filters(PublicRuleFilter, request),
            **_paging(query),
        )
        return Response([selectors.rule_to_public(ref) for ref in refs])


class PublicRuleView(DinteroAPIView):
    required_scopes = {"GET": scopes("aid_discounts_public_did_get")}

    @extend_schema(
        operation_id="aid_discounts_public_did_get",
        summary="One rule of the public collection",
        responses={200: OpenApiTypes.OBJECT},
        tags=RULES,
    )
    def get(self, request, aid, did):
        return Response(selectors.rule_to_public(selectors.public_rule_get(account=self.account, rule_id=did)))


class CustomerRulesView(DinteroAPIView):
    required_scopes = {"GET": scopes("aid_discounts_customer_cid_get")}

    @extend_schema(
        operation_id="aid_discounts_customer_cid_get",
        summary="The rules a customer can use (theirs and those given to `*`)",
        description="Live, active, visible now. One entry per ref; page with the last `ref_id`.",
        parameters=_page(100, "The ref_id of the last entry of the previous page"),
        responses={200: OpenApiTypes.OBJECT},
        tags=CUSTOMERS,
    )
    def get(self, request, aid, customer_id):
        query = _query(PageQuery, request)
        refs = selectors.customer_rules(
            account=self.account,
            customer_id=_customer_id(customer_id),
            **_paging(query),
        )
        statistics = ref_statistics(account=self.account, refs=refs, customer_id=customer_id)
        return Response([selectors.customer_rule_to_api(ref, statistics[ref.pk]) for ref in refs])
