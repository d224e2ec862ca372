"""The project's URLs plus two probe endpoints, to test the auth machinery on its own."""

from django.urls import re_path
from rest_framework.response import Response

from loyalty.api.views import DinteroAPIView, OpenLoyaltyAPIView
from loyalty.urls import urlpatterns as project_urlpatterns


class DinteroProbe(DinteroAPIView):
    required_scopes = {"GET": ("admin:receipts", "read:receipts"), "POST": ("admin:receipts", "write:receipts")}

    def get(self, request, aid):
        return Response({"account": self.account.aid, "actor": self.principal.actor})

    def post(self, request, aid):
        return Response({"account": self.account.aid, "actor": self.principal.actor})


class OpenLoyaltyProbe(OpenLoyaltyAPIView):
    required_scopes = {"GET": ("admin:segments", "read:segments"), "POST": ("admin:segments", "write:segments")}

    def get(self, request, storeCode):
        return Response({"account": self.account.aid, "actor": self.principal.actor})

    def post(self, request, storeCode):
        return Response({"account": self.account.aid, "actor": self.principal.actor})


urlpatterns = [
    re_path(r"^v1/accounts/(?P<aid>[PT]\d{8})/probe$", DinteroProbe.as_view()),
    re_path(r"^api/(?P<storeCode>[PT]\d{8})/probe$", OpenLoyaltyProbe.as_view()),
    *project_urlpatterns,
]
