from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from payments.api import schema  # noqa: F401 - registers the OpenAPI auth extension
