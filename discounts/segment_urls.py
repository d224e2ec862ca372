"""Mounted with the segment API under ^api/(?P<storeCode>[PT]\\d{8})/."""

from django.urls import re_path

from discounts import segment_api
from segments.urls import SEGMENT, UUID

urlpatterns = [
    re_path(rf"^{SEGMENT}/push$", segment_api.SegmentPushView.as_view(), name="segment-push"),
    re_path(rf"^{SEGMENT}/pushes$", segment_api.SegmentPushesView.as_view(), name="segment-pushes"),
    re_path(rf"^{SEGMENT}/push/(?P<push>{UUID})$", segment_api.SegmentPushRunView.as_view(), name="segment-push-run"),
    re_path(
        rf"^{SEGMENT}/push-links/(?P<discount>{UUID})$",
        segment_api.SegmentPushLinkView.as_view(),
        name="segment-push-link",
    ),
    re_path(
        rf"^{SEGMENT}/push-links/(?P<discount>{UUID})/impact$",
        segment_api.SegmentPushLinkImpactView.as_view(),
        name="segment-push-link-impact",
    ),
    re_path(
        rf"^{SEGMENT}/association/discount_rule$", segment_api.SegmentDiscountRulesView.as_view(), name="segment-rules"
    ),
]
