"""CORS for the few public endpoints a browser calls from another origin (settings: `CORS_*`, README).

django-cors-headers answers the preflight before any view (so before authentication and throttling) and adds
`Access-Control-Allow-Origin` to every answer of the paths `CORS_URLS_REGEX` matches, errors included.
"""

from __future__ import annotations

from corsheaders.conf import conf
from corsheaders.middleware import (
    ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN,
    CorsMiddleware,
)
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class PublicCorsMiddleware(CorsMiddleware):
    """The library's middleware, also stating the allowed methods and headers on the actual answers (it states
    them on preflights only): the widget contract lists them on every answer, and they cost nothing there."""

    def add_response_headers(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        response = super().add_response_headers(request, response)
        if ACCESS_CONTROL_ALLOW_ORIGIN in response and ACCESS_CONTROL_ALLOW_METHODS not in response:
            response[ACCESS_CONTROL_ALLOW_METHODS] = ", ".join(conf.CORS_ALLOW_METHODS)
            response[ACCESS_CONTROL_ALLOW_HEADERS] = ", ".join(conf.CORS_ALLOW_HEADERS)
        return response
