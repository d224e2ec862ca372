"""Brute-force protection for the token and login endpoints (shared counters in the database cache)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class CredentialThrottle(SimpleRateThrottle):
    """Counts attempts per (credential, IP): a client id or username cannot be hammered from one address."""

    scope = "credentials"

    def get_rate(self) -> str:
        return settings.AUTH_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str:
        credential = getattr(view, "throttle_credential", lambda request: "")(request)
        # hashed: credentials are client input (any characters, any length) and must not sit in the cache in clear
        ident = hashlib.sha256(f"{credential}|{self.get_ident(request)}".encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}
