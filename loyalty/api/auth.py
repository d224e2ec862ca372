"""Token endpoints: Dintero client credentials, customer tokens, Open Loyalty staff login and refresh, and the
JWKS."""

from __future__ import annotations

import base64
import binascii

from django.http import JsonResponse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.accounts import services, tokens
from loyalty.accounts.scopes import USER_SCOPE_GRANTORS
from loyalty.api.authentication import base_url
from loyalty.api.errors import DINTERO, OPEN_LOYALTY, DinteroError, OpenLoyaltyError
from loyalty.api.throttling import CredentialThrottle
from loyalty.api.views import DinteroAPIView

# Any one of these lets a client call the mint; the service then wants the grantor of each scope asked for.
CUSTOMER_TOKEN_GRANTORS = ("admin:receipts", "admin:discounts")


def _basic_credentials(request) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


class ClientTokenRequest(serializers.Serializer):
    grant_type = serializers.CharField()
    audience = serializers.CharField()


class AccessTokenResponse(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


def _check_audience(request, aid: str, audience: str) -> None:
    """The client names this account: `<base URL>/v1/accounts/{aid}` as it reached us, or as the deployment's
    issuer. The token's own `aud` is always the issuer's, so it works through any of the deployment's host names."""
    accepted = {
        tokens.account_audience(base_url(request), aid),
        tokens.account_audience(tokens.deployment_issuer(), aid),
    }
    if audience.rstrip("/") not in accepted:
        raise DinteroError(
            400, "invalid_audience", f"audience must be {tokens.account_audience(base_url(request), aid)}."
        )


class ClientTokenView(APIView):
    """`POST /v1/accounts/{aid}/auth/token`: client credentials, as Dintero's."""

    api_family = DINTERO
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [CredentialThrottle]

    @staticmethod
    def throttle_credential(request) -> str:
        credentials = _basic_credentials(request)
        return credentials[0] if credentials else ""

    @extend_schema(
        operation_id="aid_auths_oauth_token_post",
        summary="Get an access token for an API client",
        description="HTTP Basic `client_id:client_secret`; the audience is `<base URL>/v1/accounts/{aid}`.",
        request=ClientTokenRequest,
        responses={200: AccessTokenResponse},
        auth=[{"basicAuth": []}],  # type: ignore[list-item]  # the stub says names; drf-spectacular takes requirements
        examples=[
            OpenApiExample(
                "client credentials",
                value={
                    "grant_type": "client_credentials",
                    "audience": "https://loyalty.example.com/v1/accounts/T00000001",
                },
                request_only=True,
            )
        ],
        tags=["auth"],
    )
    def post(self, request, aid: str):
        credentials = _basic_credentials(request)
        if credentials is None:
            raise DinteroError(401, "unauthorized", "Use HTTP Basic authentication with client_id:client_secret.")
        body = ClientTokenRequest(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        if body.validated_data["grant_type"] != "client_credentials":
            raise DinteroError(400, "unsupported_grant_type", "grant_type must be client_credentials.")
        _check_audience(request, aid, body.validated_data["audience"])
        client = services.api_client_authenticate(aid=aid, client_id=credentials[0], secret=credentials[1])
        if client is None:
            raise DinteroError(401, "invalid_client", "Invalid client credentials.")
        token, ttl = services.client_token_issue(client=client)
        return Response({"access_token": token, "token_type": "Bearer", "expires_in": ttl})


class StrictIntegerField(serializers.IntegerField):
    """An integer, not a numeric string or a float with a fraction (`"900"`, `1.5`)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class CustomerTokenRequest(serializers.Serializer):
    customer_id = serializers.CharField(max_length=255, trim_whitespace=False)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(USER_SCOPE_GRANTORS)), allow_empty=False, max_length=2
    )
    expires_in = StrictIntegerField(min_value=60, max_value=3600, default=900)

    def validate_customer_id(self, value: str) -> str:
        if value != value.strip():
            raise serializers.ValidationError("customer_id must not start or end with spaces.")
        return value


class CustomerTokenView(DinteroAPIView):
    """`POST /v1/accounts/{aid}/auth/customer-token`: a trusted client mints a short-lived token for one end
    customer, carrying only `user:*` scopes."""

    required_scopes = {"POST": CUSTOMER_TOKEN_GRANTORS}

    @extend_schema(
        operation_id="aid_auths_customer_token_post",
        summary="Mint a short-lived token for one customer",
        description=(
            "For a member app's own backend: the token acts for `customer_id` only, with the user scopes asked for "
            "(`user:receipts` needs `admin:receipts`, `user:discounts` needs `admin:discounts`). `expires_in` is "
            "60 to 3600 seconds (default 900). Revoking the minting client ends its customer tokens at once."
        ),
        request=CustomerTokenRequest,
        responses={200: AccessTokenResponse},
        examples=[
            OpenApiExample(
                "a member app's customer",
                value={"customer_id": "C-1001", "scopes": ["user:receipts", "user:discounts"], "expires_in": 900},
                request_only=True,
            )
        ],
        extensions={"x-scopes": list(CUSTOMER_TOKEN_GRANTORS)},
        tags=["auth"],
    )
    def post(self, request, aid: str):
        body = CustomerTokenRequest(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        principal = self.principal
        ttl = body.validated_data["expires_in"]
        token = services.customer_token_issue(
            aid=self.account.aid,
            client_id=principal.subject if principal.kind == "client" else None,
            held_scopes=principal.scopes_for(self.account.aid) or frozenset(),
            customer_id=body.validated_data["customer_id"],
            scopes=body.validated_data["scopes"],
            ttl=ttl,
        )
        return Response({"access_token": token, "token_type": "Bearer", "expires_in": ttl})


class StaffLoginRequest(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)


class TokenPairResponse(serializers.Serializer):
    token = serializers.CharField()
    refresh_token = serializers.CharField()


class CredentialExchangeView(APIView):
    """An Open Loyalty endpoint that trades a credential for tokens: anonymous, throttled per credential."""

    api_family = OPEN_LOYALTY
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [CredentialThrottle]


class StaffLoginView(CredentialExchangeView):
    """`POST /api/admin/login_check`: Open Loyalty's admin login, for staff users."""

    @staticmethod
    def throttle_credential(request) -> str:
        data = request.data if isinstance(request.data, dict) else {}
        return str(data.get("username", ""))[:150]

    @extend_schema(
        operation_id="adminLoginCheck",
        request=StaffLoginRequest,
        responses={200: TokenPairResponse},
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        body = StaffLoginRequest(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        pair = services.staff_login(**body.validated_data)
        if pair is None:
            raise OpenLoyaltyError(401, "Invalid credentials.")
        return Response({"token": pair.token, "refresh_token": pair.refresh_token})


class RefreshRequest(serializers.Serializer):
    refresh_token = serializers.CharField()


class TokenRefreshView(CredentialExchangeView):
    """`POST /api/token/refresh`: a new pair for a single-use refresh token."""

    @staticmethod
    def throttle_credential(request) -> str:
        return "refresh"

    @extend_schema(
        operation_id="tokenRefresh", request=RefreshRequest, responses={200: TokenPairResponse}, auth=[], tags=["auth"]
    )
    def post(self, request):
        body = RefreshRequest(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        pair = services.staff_token_refresh(refresh_token=body.validated_data["refresh_token"])
        if pair is None:
            raise OpenLoyaltyError(401, "Invalid, expired or already used refresh token.")
        return Response({"token": pair.token, "refresh_token": pair.refresh_token})


def jwks_view(request):
    return JsonResponse(tokens.jwks())
