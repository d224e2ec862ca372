from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from django.views.defaults import server_error as django_server_error

from loyalty.api.errors import json_error_response
from loyalty.core.services import health_check


@require_GET
def healthz(request):
    status = health_check()
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse(status, status=200 if healthy else 503)


@csrf_exempt  # an API path: no session, no CSRF; any method gets the same JSON 404
def api_not_found(request, *args, **kwargs):
    return json_error_response(request.path, 404, "not_found", f"No API endpoint at {request.path}.")


def server_error(request):
    if request.path.startswith(("/v1/", "/api/")):
        return json_error_response(request.path, 500, "server_error", "Unexpected error; it has been logged.")
    return django_server_error(request)
