"""Pushing segments onto discount rules: our extension of the Open Loyalty segment API, and the segment's
`association/discount_rule`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from discounts import selectors
from discounts.models import PushRun
from discounts.pushes import push_link_remove, segment_push_start
from discounts.selectors import impact as impacts
from loyalty.api.errors import OpenLoyaltyError, ol_field_error
from loyalty.api.openloyalty import paging
from loyalty.api.views import OpenLoyaltyAPIView
from segments.selectors import segment_get

WRITE = ("admin:segments", "write:segments")
READ = ("admin:segments", "read:segments")
TAGS = ["Segment"]


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def push_to_api(run: PushRun) -> dict[str, Any]:
    return {
        "pushId": str(run.id),
        "discountId": str(run.rule_id),
        "mode": run.mode,
        "removeDeparted": run.remove_departed,
        "status": run.status,
        "version": run.version,
        "added": run.added,
        "removed": run.removed,
        "skipped": run.skipped,
        "heldOut": run.held_out,
        "errorCode": run.error_code or None,
        "errorMessage": run.error_message or None,
        "createdAt": _iso(run.created_at),
        "startedAt": _iso(run.started_at),
        "finishedAt": _iso(run.finished_at),
        "durationMs": run.duration_ms,
    }


def _link_data(rule) -> dict[str, Any]:
    """A fed rule's link: how it is fed and, with a holdout, its share and how many customers went each way."""
    data: dict[str, Any] = {"mode": "sync" if rule.synced else "once", "type": rule.type}
    if rule.holdout_percent:
        data.update(holdoutPercent=rule.holdout_percent, assigned=rule.assigned_count, heldOut=rule.held_out_count)
    return data


class SegmentPushView(OpenLoyaltyAPIView):
    # a segment change that hands out discounts: one scope of each kind
    required_scopes = {"POST": [WRITE, ("admin:discounts", "write:discounts")]}

    @extend_schema(
        operation_id="segmentPostPush",
        summary="Give a discount rule to the segment's customers (extension)",
        description=(
            'Body `{"discountId", "mode": "once"|"sync", "removeDeparted": false, "holdoutPercent": 0}`. `once` '
            "gives the rule to the current members; `sync` also links rule and segment, so after every "
            "recalculation the rule follows the membership (with `removeDeparted`, customers who left lose it). "
            "`holdoutPercent` (0-50, sync only, fixed for the link's life) holds that share of the members out, "
            "by a stable hash of the customer id, so the link's impact can be measured. Needs a discounts write "
            "scope too. Answers 202 with the push id at once."
        ),
        request=OpenApiTypes.OBJECT,
        responses={202: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def post(self, request, storeCode, segment):
        found = segment_get(account=self.account, segment_id=segment)
        body = request.data if isinstance(request.data, dict) else {}
        errors = []
        rule = None
        discount_id = body.get("discountId")
        if not isinstance(discount_id, str) or not discount_id:
            errors.append(ol_field_error("discountId", "This value should not be blank.", "required"))
        else:
            rule = selectors.rule_find(account=self.account, rule_id=discount_id)
            if rule is None:
                errors.append(ol_field_error("discountId", "No such discount rule in this account.", "not_found"))
        mode = body.get("mode")
        if mode not in ("once", "sync"):
            errors.append(
                ol_field_error("mode", "The value you selected is not a valid choice (once, sync).", "invalid_choice")
            )
        remove_departed = body.get("removeDeparted", False)
        if not isinstance(remove_departed, bool):
            errors.append(ol_field_error("removeDeparted", "This value should be true or false.", "invalid"))
        holdout = body.get("holdoutPercent")
        if holdout is not None and (
            isinstance(holdout, bool) or not isinstance(holdout, int) or not 0 <= holdout <= 50
        ):
            errors.append(
                ol_field_error("holdoutPercent", "This value should be a whole number from 0 to 50.", "range")
            )
        if errors:
            raise OpenLoyaltyError(400, "Validation failed.", errors)
        run = segment_push_start(
            account=self.account,
            segment=found,
            rule=rule,
            mode=mode,
            remove_departed=remove_departed,
            actor=self.principal.actor,
            holdout_percent=holdout,
        )
        return Response({"pushId": str(run.id)}, status=status.HTTP_202_ACCEPTED)


class SegmentPushRunView(OpenLoyaltyAPIView):
    required_scopes = {"GET": READ}

    @extend_schema(
        operation_id="segmentGetPush", summary="One push (extension)", responses={200: OpenApiTypes.OBJECT}, tags=TAGS
    )
    def get(self, request, storeCode, segment, push):
        found = segment_get(account=self.account, segment_id=segment)
        return Response(push_to_api(selectors.push_run_get(segment=found, push_id=push)))


class SegmentPushesView(OpenLoyaltyAPIView):
    required_scopes = {"GET": READ}

    @extend_schema(
        operation_id="segmentGetPushes",
        summary="Push history (extension)",
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request, storeCode, segment):
        found = segment_get(account=self.account, segment_id=segment)
        page = paging(request.query_params, order_fields={"createdAt": "created_at"}, default_order=["-created_at"])
        runs = selectors.push_runs_for_segment(segment=found).order_by(*page.ordering)
        start = (page.page - 1) * page.per_page
        total = runs.count()
        return Response(
            {
                "items": [push_to_api(r) for r in runs[start : start + page.per_page]],
                "total": {"all": total, "filtered": total, "estimated": False},
            }
        )


class SegmentPushLinkView(OpenLoyaltyAPIView):
    required_scopes = {"DELETE": WRITE}

    @extend_schema(
        operation_id="segmentDeletePushLink",
        summary="Stop keeping a rule in sync (extension)",
        responses={204: None},
        tags=TAGS,
    )
    def delete(self, request, storeCode, segment, discount):
        found = segment_get(account=self.account, segment_id=segment)
        rule = selectors.rule_get(account=self.account, rule_id=discount)
        if not push_link_remove(account=self.account, segment=found, rule=rule, actor=self.principal.actor):
            raise OpenLoyaltyError(404, "This rule is not kept in sync with this segment.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentDiscountRulesView(OpenLoyaltyAPIView):
    """`association/discount_rule`: the rules this segment feeds (kept in sync, or pushed once)."""

    required_scopes = {"GET": READ}

    @extend_schema(operation_id="_getSegmentAssociationDiscountRule", responses={200: OpenApiTypes.OBJECT}, tags=TAGS)
    def get(self, request, storeCode, segment):
        found = segment_get(account=self.account, segment_id=segment)
        page = paging(request.query_params, order_fields={}, default_order=[])
        rules = selectors.pushed_rules_for_segment(segment=found)
        total = rules.count()
        start = (page.page - 1) * page.per_page
        items = [
            {
                "id": str(rule.id),
                "name": rule.name,
                "active": rule.active,
                "additionalData": _link_data(rule),
            }
            for rule in rules[start : start + page.per_page]
        ]
        return Response({"items": items, "total": {"all": total, "estimated": False}})


class SegmentPushLinkImpactView(OpenLoyaltyAPIView):
    # the report shows revenue and discount cost: a segments read scope and a discounts one
    required_scopes = {"GET": [READ, ("admin:discounts", "read:discounts")]}

    @extend_schema(
        operation_id="segmentGetPushLinkImpact",
        summary="Did the rule work? Treatment against holdout (extension)",
        description=(
            "For a rule kept in sync with a holdout: per side (treatment, holdout) customers, conversion, net "
            "revenue, purchases and discount cost per customer, each customer counted from when they entered; the "
            "relative uplift of net revenue per customer with its 95 % interval and p-value (Welch's t, delta "
            "method, CUPED with the 90 days before entering), incremental revenue and incremental revenue net of "
            "the discount with intervals, the sample-ratio check, and the cumulative revenue per customer per day. "
            "`from`/`to`: dates in the account's timezone (`to` inclusive) or date-times with an offset; default "
            "from the link's creation until now. Amounts in minor units."
        ),
        parameters=[
            OpenApiParameter("from", OpenApiTypes.STR, required=False),
            OpenApiParameter("to", OpenApiTypes.STR, required=False),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request, storeCode, segment, discount):
        found = segment_get(account=self.account, segment_id=segment)
        link = impacts.push_link_get(account=self.account, segment=found, rule_id=discount)
        start, end, problems = impacts.period_parse(
            account=self.account, start=request.query_params.get("from"), end=request.query_params.get("to")
        )
        if problems:
            raise OpenLoyaltyError(400, "Validation failed.", [ol_field_error(f, m) for f, m in problems])
        start, end = impacts.impact_period(links=[link], start=start, end=end)
        if end <= start:
            raise OpenLoyaltyError(
                400, "Validation failed.", [ol_field_error("to", "This value should be after from.")]
            )
        report = impacts.links_impact(account=self.account, links=[link], start=start, end=end)
        return Response(impacts.impact_to_api(report, start=start, end=end, currency=self.account.currency))
