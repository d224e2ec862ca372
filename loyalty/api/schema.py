"""drf-spectacular extensions: our JWT authentication appears as the `bearerAuth` security scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "loyalty.api.authentication.JWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "An access token from `POST /v1/accounts/{aid}/auth/token` (API clients, Dintero style), "
                "`POST /v1/accounts/{aid}/auth/customer-token` (one end customer's `user:*` scopes, minted by a "
                "client) or `POST /api/admin/login_check` (staff users, Open Loyalty style)."
            ),
        }
