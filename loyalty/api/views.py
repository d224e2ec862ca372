"""Base classes for account-scoped API views of both families."""

from __future__ import annotations

from rest_framework.views import APIView

from loyalty.accounts.models import Account
from loyalty.accounts.selectors import account_get
from loyalty.api.errors import DINTERO, OPEN_LOYALTY
from loyalty.api.principal import Principal


class AccountAPIView(APIView):
    api_family = DINTERO
    account_kwarg = "aid"
    required_scopes: dict[str, tuple[str, ...]] = {}
    account: Account

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.account = account_get(aid=kwargs[self.account_kwarg])

    @property
    def principal(self) -> Principal:
        return self.request.user


class DinteroAPIView(AccountAPIView):
    api_family = DINTERO
    account_kwarg = "aid"


class OpenLoyaltyAPIView(AccountAPIView):
    api_family = OPEN_LOYALTY
    account_kwarg = "storeCode"
