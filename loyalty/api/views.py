"""Base classes for account-scoped API views of both families, and the API paths' 404 and 500 answers."""

from __future__ import annotations

from typing import cast

from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import server_error as django_server_error
from rest_framework.views import APIView

from loyalty.accounts.models import Account
from loyalty.accounts.selectors import account_get
from loyalty.api.errors import DINTERO, OPEN_LOYALTY, json_error_response
from loyalty.api.principal import Principal


class AccountAPIView(APIView):
    api_family = DINTERO
    account_kwarg = "aid"
    required_scopes: dict[str, tuple[str, ...]] = {}
    account: Account

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        aid = kwargs[self.account_kwarg]
        # a client's token brought its account along (read in the same query as the client's revocation check)
        known = getattr(request.user, "account", None)
        self.account = known if known is not None and known.aid == aid else account_get(aid=aid)

    @property
    def principal(self) -> Principal:
        # the JWT authentication (every API view's) puts a Principal where Django keeps the user
        return cast(Principal, self.request.user)


class DinteroAPIView(AccountAPIView):
    api_family = DINTERO
    account_kwarg = "aid"


class OpenLoyaltyAPIView(AccountAPIView):
    api_family = OPEN_LOYALTY
    account_kwarg = "storeCode"


@csrf_exempt  # an API path: no session, no CSRF; any method gets the same JSON 404
def api_not_found(request, *args, **kwargs):
    return json_error_response(request.path, 404, "not_found", f"No API endpoint at {request.path}.")


def server_error(request):
    if request.path.startswith(("/v1/", "/api/")):
        return json_error_response(request.path, 500, "server_error", "Unexpected error; it has been logged.")
    return django_server_error(request)
