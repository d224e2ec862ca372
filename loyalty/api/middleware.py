"""Refuse oversized API bodies before anything reads them, in the API family's error shape."""

from __future__ import annotations

from django.conf import settings

from loyalty.api.errors import json_error_response

API_PREFIXES = ("/v1/", "/api/")


class BodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIXES):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if length > limit:
                return json_error_response(
                    request.path, 413, "payload_too_large", f"The body is larger than {limit:,} bytes."
                )
        return self.get_response(request)
