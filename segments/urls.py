"""Mounted under ^api/(?P<storeCode>[PT]\\d{8})/ (Open Loyalty family)."""

from django.urls import re_path

from segments import api, api_history

UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
SEGMENT = rf"segment/(?P<segment>{UUID})"

urlpatterns = [
    re_path(r"^segment$", api.SegmentListView.as_view(), name="segments"),
    re_path(r"^segment/preview$", api.SegmentPreviewView.as_view(), name="segment-preview"),
    re_path(rf"^{SEGMENT}$", api.SegmentDetailView.as_view(), name="segment"),
    re_path(rf"^{SEGMENT}/members$", api.SegmentMembersView.as_view(), name="segment-members"),
    re_path(rf"^{SEGMENT}/activate$", api.SegmentActivateView.as_view(), name="segment-activate"),
    re_path(rf"^{SEGMENT}/deactivate$", api.SegmentDeactivateView.as_view(), name="segment-deactivate"),
    re_path(rf"^{SEGMENT}/refresh$", api.SegmentRefreshView.as_view(), name="segment-refresh"),
    re_path(rf"^{SEGMENT}/runs$", api.SegmentRunsView.as_view(), name="segment-runs"),
    re_path(rf"^{SEGMENT}/runs/(?P<run>{UUID})$", api.SegmentRunView.as_view(), name="segment-run"),
    re_path(
        r"^customer/(?P<customerId>[^/]+)/segments$",
        api_history.CustomerSegmentsView.as_view(),
        name="customer-segments",
    ),
    re_path(
        rf"^{SEGMENT}/association/(?P<resourceName>reward|achievement|campaign)$",
        api.SegmentAssociationView.as_view(),
        name="segment-association",
    ),
]
