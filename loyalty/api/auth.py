"""Token endpoints: Dintero client credentials, Open Loyalty staff login and refresh, and the JWKS."""

from __future__ import annotations

import base64
import binascii

from django.http import JsonResponse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.accounts import services, tokens
from loyalty.api.authentication import base_url
from loyalty.api.errors import DINTERO, OPEN_LOYALTY, DinteroError, OpenLoyaltyError
from loyalty.api.throttling import CredentialThrottle


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
        expected_audience = tokens.account_audience(base_url(request), aid)
        if body.validated_data["audience"].rstrip("/") != expected_audience:
            raise DinteroError(400, "invalid_audience", f"audience must be {expected_audience}.")
        client = services.api_client_authenticate(aid=aid, client_id=credentials[0], secret=credentials[1])
        if client is None:
            raise DinteroError(401, "invalid_client", "Invalid client credentials.")
        token, ttl = services.client_token_issue(client=client, base_url=base_url(request))
        return Response({"access_token": token, "token_type": "Bearer", "expires_in": ttl})


class StaffLoginRequest(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)


class TokenPairResponse(serializers.Serializer):
    token = serializers.CharField()
    refresh_token = serializers.CharField()


class StaffLoginView(APIView):
    """`POST /api/admin/login_check`: Open Loyalty's admin login, for staff users."""

    api_family = OPEN_LOYALTY
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [CredentialThrottle]

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
        pair = services.staff_login(**body.validated_data, base_url=base_url(request))
        if pair is None:
            raise OpenLoyaltyError(401, "Invalid credentials.")
        return Response({"token": pair.token, "refresh_token": pair.refresh_token})


class RefreshRequest(serializers.Serializer):
    refresh_token = serializers.CharField()


class TokenRefreshView(APIView):
    """`POST /api/token/refresh`: a new pair for a single-use refresh token."""

    api_family = OPEN_LOYALTY
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [CredentialThrottle]

    @staticmethod
    def throttle_credential(request) -> str:
        return "refresh"

    @extend_schema(
        operation_id="tokenRefresh", request=RefreshRequest, responses={200: TokenPairResponse}, auth=[], tags=["auth"]
    )
    def post(self, request):
        body = RefreshRequest(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        pair = services.staff_token_refresh(
            refresh_token=body.validated_data["refresh_token"], base_url=base_url(request)
        )
        if pair is None:
            raise OpenLoyaltyError(401, "Invalid, expired or already used refresh token.")
        return Response({"token": pair.token, "refresh_token": pair.refresh_token})


def jwks_view(request):
    return JsonResponse(tokens.jwks())
