"""Dry runs of a rule over past receipts (our extension of Dintero's Discounts API): queue one, read it back."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from discounts import selectors
from discounts.errors import DiscountValidationError
from discounts.selectors import impact as impacts
from discounts.selectors import simulations
from discounts.services.simulations import simulation_start
from loyalty.api.views import DinteroAPIView

TAGS = ["discount rules"]
WRITE = ("admin:discounts", "write:discounts")
READ = ("admin:discounts", "read:discounts")
DEFAULT_DAYS = 90
DESCRIPTION = (
    'Body `{"from", "to", "customers": "*" | "given" | "segment:<segment id>", "rule"?}` (dates in the account\'s '
    "days, `to` inclusive, or date-times with an offset; default the last 90 days; customers default `*`). "
    "Replays every purchase of those customers in the period, in time order, through the evaluator of "
    "`available_for_receipt`, with each customer's use of the rule (usage, stamps, debit balance) simulated, never "
    "the live ledger; the rule runs on its own through the whole period. Answers 202 with the simulation's id; "
    "`GET …/discounts/simulations/{id}` gives progress and, once done, the result."
)


def _start(view: DinteroAPIView, request, *, rule, document):
    body = request.data if isinstance(request.data, dict) else {}
    start, end, problems = impacts.period_parse(account=view.account, start=body.get("from"), end=body.get("to"))
    if problems:
        raise DiscountValidationError("The simulation is invalid.", problems)
    end = end or timezone.now()
    simulation = simulation_start(
        account=view.account,
        rule=rule,
        document=document,
        period_from=start or end - timedelta(days=DEFAULT_DAYS),
        period_to=end,
        customers=body.get("customers", "*"),
        actor=view.principal.actor,
    )
    return Response({"id": str(simulation.id), "status": simulation.status}, status=status.HTTP_202_ACCEPTED)


class RuleSimulateView(DinteroAPIView):
    required_scopes = {"POST": WRITE}

    @extend_schema(
        operation_id="aid_discounts_did_simulate_post",
        summary="Dry run of a rule over past receipts (extension)",
        description=DESCRIPTION + " `rule`, if sent, is a whole Discount replayed instead of the stored one.",
        request=OpenApiTypes.OBJECT,
        responses={202: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def post(self, request, aid, did):
        rule = selectors.rule_get(account=self.account, rule_id=did)
        body = request.data if isinstance(request.data, dict) else {}
        return _start(self, request, rule=rule, document=body.get("rule"))


class SimulationsView(DinteroAPIView):
    required_scopes = {"POST": WRITE}

    @extend_schema(
        operation_id="aid_discounts_simulations_post",
        summary="Dry run of a draft rule over past receipts (extension)",
        description=DESCRIPTION + " `rule` (required here) is the draft Discount.",
        request=OpenApiTypes.OBJECT,
        responses={202: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def post(self, request, aid):
        body = request.data if isinstance(request.data, dict) else {}
        return _start(self, request, rule=None, document=body.get("rule"))


class SimulationView(DinteroAPIView):
    required_scopes = {"GET": READ}

    @extend_schema(
        operation_id="aid_discounts_simulation_get",
        summary="A dry run: progress and result (extension)",
        description="`result`: receipts evaluated and applied, customers, `cost` and `bonus` (minor units), "
        "`per_day`, `top_items` by cost, and `not_applied` (how many receipts each reason kept it from).",
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request, aid, simulation_id):
        found = simulations.simulation_get(account=self.account, simulation_id=simulation_id)
        return Response(simulations.simulation_to_api(found))
