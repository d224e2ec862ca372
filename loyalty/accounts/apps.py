from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "loyalty.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from loyalty.api import schema  # noqa: F401 - registers the OpenAPI security scheme
