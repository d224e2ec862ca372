"""Mounted under ^v1/accounts/(?P<aid>[PT]\\d{8})/."""

from django.urls import re_path

from discounts import api, api_automations, api_campaigns, api_claims, api_simulations, api_till

SEGMENT = r"[^/]+"

urlpatterns = [
    re_path(
        r"^discounts/available_for_receipt$",
        api_till.AvailableForReceiptView.as_view(),
        name="discount-available-for-receipt",
    ),
    re_path(r"^discounts/events$", api_automations.EventsView.as_view(), name="discount-events"),
    re_path(r"^automations/rules$", api_automations.AutomationsView.as_view(), name="automations"),
    re_path(rf"^automations/rules/(?P<arid>{SEGMENT})$", api_automations.AutomationView.as_view(), name="automation"),
    re_path(r"^discounts/campaigns$", api_campaigns.CampaignsView.as_view(), name="discount-campaigns"),
    re_path(
        rf"^discounts/campaigns/(?P<campaign_id>{SEGMENT})$",
        api_campaigns.CampaignView.as_view(),
        name="discount-campaign",
    ),
    re_path(r"^discounts/rules$", api.RulesView.as_view(), name="discount-rules"),
    re_path(
        rf"^discounts/rules/(?P<did>{SEGMENT})/simulate$",
        api_simulations.RuleSimulateView.as_view(),
        name="discount-rule-simulate",
    ),
    re_path(r"^discounts/simulations$", api_simulations.SimulationsView.as_view(), name="discount-simulations"),
    re_path(
        rf"^discounts/simulations/(?P<simulation_id>{SEGMENT})$",
        api_simulations.SimulationView.as_view(),
        name="discount-simulation",
    ),
    re_path(rf"^discounts/rules/(?P<did>{SEGMENT})$", api.RuleView.as_view(), name="discount-rule"),
    re_path(
        rf"^discounts/rules/(?P<did>{SEGMENT})/customers$",
        api.RuleCustomersView.as_view(),
        name="discount-rule-customers",
    ),
    re_path(r"^discounts/search/rules$", api.RuleSearchView.as_view(), name="discount-rules-search"),
    re_path(r"^discounts/public/rules$", api.PublicRulesView.as_view(), name="discount-public-rules"),
    re_path(rf"^discounts/public/rules/(?P<did>{SEGMENT})$", api.PublicRuleView.as_view(), name="discount-public-rule"),
    re_path(
        rf"^discounts/customers/(?P<customer_id>{SEGMENT})/rules$",
        api.CustomerRulesView.as_view(),
        name="discount-customer-rules",
    ),
    re_path(r"^discounts/available_for_receipt/claims$", api_claims.ClaimsView.as_view(), name="discount-claims"),
    re_path(
        rf"^discounts/available_for_receipt/claims/(?P<claim_id>{SEGMENT})$",
        api_claims.ClaimView.as_view(),
        name="discount-claim",
    ),
    re_path(
        rf"^discounts/customers/(?P<customer_id>{SEGMENT})/refs/(?P<ref_id>{SEGMENT})$",
        api_claims.CustomerRefView.as_view(),
        name="discount-customer-ref",
    ),
    re_path(
        rf"^discounts/rules/(?P<did>{SEGMENT})/usages$",
        api_claims.RuleUsagesView.as_view(),
        name="discount-rule-usages",
    ),
]
