"""Content-Security-Policy for every HTML response: scripts and styles from our own origin only, no inline script."""

from __future__ import annotations

from loyalty.core.services import audit_record

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Django's admin and our pages keep a few style attributes; no inline *script* anywhere
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Content-Security-Policy", POLICY)
        return response


class AuditMiddleware:
    """Every successful change a signed-in user makes through the back-office pages is an AuditEvent: the view
    (what), the ids in its URL (which), the user (who), now (when). The admin records its own (more detailed)
    events; the APIs record `created_by` on what they write."""

    WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
    # pages whose service records the event itself (discounts.services, discounts.pushes, accounts.services): not
    # twice
    AUDITED_BY_SERVICES = {
        "web:rule-new",
        "web:rule-edit",
        "web:segment-push",
        "web:segment-unlink",
        "web:api-client-new",
        "web:api-client-revoke",
    }
    SKIPPED_PREFIXES = ("/v1/", "/api/", "/admin/", "/static/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.method in self.WRITE_METHODS
            and response.status_code < 400
            and not request.path.startswith(self.SKIPPED_PREFIXES)
            and getattr(request, "user", None) is not None
            and request.user.is_authenticated
            and request.resolver_match is not None
            and request.resolver_match.url_name not in {"login", "logout", "preview", "switch-account"}
            and request.resolver_match.view_name not in self.AUDITED_BY_SERVICES
        ):
            match = request.resolver_match
            audit_record(
                account=getattr(request, "account", None),
                actor=f"user:{request.user.get_username()}",
                action=match.view_name or match.url_name or request.path,
                object_id=",".join(str(v) for v in match.kwargs.values()),
                summary=f"{request.method} {request.path}",
            )
        return response
