"""Mounted under ^v1/accounts/(?P<aid>[PT]\\d{8})/."""

from django.urls import re_path

from discounts import api, api_simulations, api_till

SEGMENT = r"[^/]+"

urlpatterns = [
    re_path(
        r"^discounts/available_for_receipt$",
        api_till.AvailableForReceiptView.as_view(),
        name="discount-available-for-receipt",
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
]
