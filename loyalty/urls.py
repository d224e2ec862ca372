from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from loyalty.api.auth import ClientTokenView, CustomerTokenView, StaffLoginView, TokenRefreshView, jwks_view
from loyalty.api.views import api_not_found, server_error
from loyalty.core.views import healthz
from receipts.api import CustomerSegmentView

AID = r"(?P<aid>[PT]\d{8})"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path(".well-known/jwks.json", jwks_view, name="jwks"),
    re_path(rf"^v1/accounts/{AID}/auth/token$", ClientTokenView.as_view(), name="auth-token"),
    re_path(rf"^v1/accounts/{AID}/auth/customer-token$", CustomerTokenView.as_view(), name="auth-customer-token"),
    path("api/admin/login_check", StaffLoginView.as_view(), name="staff-login"),
    path("api/token/refresh", TokenRefreshView.as_view(), name="token-refresh"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves its start-up script as a file: the docs page needs no inline script (CSP)
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    re_path(rf"^v1/accounts/{AID}/receipts/customer_segment$", CustomerSegmentView.as_view(), name="customer-segment"),
    re_path(rf"^v1/accounts/{AID}/", include("receipts.urls")),
    re_path(rf"^v1/accounts/{AID}/", include("discounts.urls")),
    re_path(r"^api/(?P<storeCode>[PT]\d{8})/", include("segments.urls")),
    re_path(r"^api/(?P<storeCode>[PT]\d{8})/", include("discounts.segment_urls")),
    path("admin/", admin.site.urls),
    path("", include("loyalty.web.urls")),
    # Anything else under the API prefixes (including malformed account ids) is a 404 in that API's shape.
    re_path(r"^(?:v1|api)(?:/.*)?$", api_not_found, name="api-not-found"),
]

handler500 = server_error
