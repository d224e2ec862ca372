from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "loyalty.api"
    label = "api"
    verbose_name = "APIs"

    def ready(self) -> None:
        from loyalty.api import schema  # noqa: F401 - registers the OpenAPI security scheme
