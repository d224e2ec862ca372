from django.urls import path, register_converter

from loyalty.web.views import (
    api_clients,
    auth,
    automations,
    basket,
    campaigns,
    customers,
    dashboard,
    impact,
    receipts,
    rules,
    segments,
    simulations,
)


class AidConverter:
    regex = r"[PT]\d{8}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AidConverter, "aid")

app_name = "web"

urlpatterns = [
    path("", auth.home, name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("no-account/", auth.no_account, name="no-account"),
    path("a/<aid:aid>/", dashboard.dashboard, name="dashboard"),
    path("a/<aid:aid>/receipts/", receipts.receipt_list, name="receipts"),
    path("a/<aid:aid>/receipts/export.csv", receipts.receipt_export, name="receipts-export"),
    path("a/<aid:aid>/receipts/<int:pk>/", receipts.receipt_detail, name="receipt"),
    path("a/<aid:aid>/customers/", customers.customer_list, name="customers"),
    path("a/<aid:aid>/customers/<int:pk>/", customers.customer_detail, name="customer"),
    path("a/<aid:aid>/segments/", segments.segment_list, name="segments"),
    path("a/<aid:aid>/segments/new/", segments.segment_new, name="segment-new"),
    path("a/<aid:aid>/segments/preview/", segments.segment_preview, name="preview"),
    path("a/<aid:aid>/suggest/", segments.suggest, name="suggest"),
    path("a/<aid:aid>/segments/<uuid:segment_id>/", segments.segment_detail, name="segment"),
    path("a/<aid:aid>/segments/<uuid:segment_id>/edit/", segments.segment_edit, name="segment-edit"),
    path("a/<aid:aid>/segments/<uuid:segment_id>/progress/", segments.segment_progress, name="segment-progress"),
    path("a/<aid:aid>/segments/<uuid:segment_id>/active/", segments.segment_set_active, name="segment-active"),
    path("a/<aid:aid>/segments/<uuid:segment_id>/refresh/", segments.segment_refresh, name="segment-refresh"),
    path("a/<aid:aid>/segments/<uuid:segment_id>/delete/", segments.segment_delete, name="segment-delete"),
    path("a/<aid:aid>/segments/<uuid:segment_id>/members.csv", segments.segment_export, name="segment-export"),
    path("a/<aid:aid>/segments/<uuid:segment_id>/push/", segments.segment_push, name="segment-push"),
    path(
        "a/<aid:aid>/segments/<uuid:segment_id>/links/<uuid:rule_id>/remove/",
        segments.segment_unlink,
        name="segment-unlink",
    ),
    path(
        "a/<aid:aid>/segments/<uuid:segment_id>/links/<uuid:rule_id>/impact/",
        impact.segment_link_impact,
        name="segment-link-impact",
    ),
    path("a/<aid:aid>/api-clients/", api_clients.api_client_list, name="api-clients"),
    path("a/<aid:aid>/api-clients/new/", api_clients.api_client_new, name="api-client-new"),
    path("a/<aid:aid>/api-clients/<int:pk>/revoke/", api_clients.api_client_revoke, name="api-client-revoke"),
    path("a/<aid:aid>/discount-rules/", rules.rule_list, name="rules"),
    path("a/<aid:aid>/discount-rules/new/", rules.rule_new, name="rule-new"),
    path("a/<aid:aid>/discount-rules/basket/", basket.basket_tester, name="basket"),
    path("a/<aid:aid>/discount-rules/<uuid:rule_id>/", rules.rule_detail, name="rule"),
    path("a/<aid:aid>/discount-rules/<uuid:rule_id>/edit/", rules.rule_edit, name="rule-edit"),
    path("a/<aid:aid>/discount-rules/<uuid:rule_id>/duplicate/", rules.rule_duplicate_page, name="rule-duplicate"),
    path("a/<aid:aid>/campaigns/", campaigns.campaign_list, name="campaigns"),
    path("a/<aid:aid>/campaigns/new/", campaigns.campaign_new, name="campaign-new"),
    path("a/<aid:aid>/campaigns/<uuid:campaign_pk>/", campaigns.campaign_detail, name="campaign"),
    path("a/<aid:aid>/campaigns/<uuid:campaign_pk>/edit/", campaigns.campaign_edit, name="campaign-edit"),
    path("a/<aid:aid>/campaigns/<uuid:campaign_pk>/delete/", campaigns.campaign_delete, name="campaign-delete"),
    path("a/<aid:aid>/automations/", automations.automation_list, name="automations"),
    path("a/<aid:aid>/automations/<uuid:automation_id>/", automations.automation_detail, name="automation"),
    path(
        "a/<aid:aid>/automations/<uuid:automation_id>/counts/", automations.automation_counts, name="automation-counts"
    ),
    path(
        "a/<aid:aid>/automations/<uuid:automation_id>/delete/", automations.automation_delete, name="automation-delete"
    ),
    path(
        "a/<aid:aid>/automations/<uuid:automation_id>/deliveries/<int:delivery_id>/retry/",
        automations.automation_delivery_retry,
        name="automation-retry",
    ),
    path("a/<aid:aid>/discount-rules/<uuid:rule_id>/impact/", impact.rule_impact, name="rule-impact"),
    path("a/<aid:aid>/discount-rules/<uuid:rule_id>/simulate/", simulations.rule_simulate, name="rule-simulate"),
    path(
        "a/<aid:aid>/discount-rules/<uuid:rule_id>/simulations/<uuid:simulation_id>/",
        simulations.rule_simulation,
        name="rule-simulation",
    ),
    path(
        "a/<aid:aid>/discount-rules/<uuid:rule_id>/simulations/<uuid:simulation_id>/progress/",
        simulations.rule_simulation_progress,
        name="rule-simulation-progress",
    ),
]
