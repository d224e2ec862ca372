from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "loyalty.web"
    label = "web"
    verbose_name = "Back-office pages"
