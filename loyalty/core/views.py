from django.http import JsonResponse
from django.views.decorators.http import require_GET

from loyalty.core.services import health_check


@require_GET
def healthz(request):
    status = health_check()
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse(status, status=200 if healthy else 503)
