from django.apps import AppConfig


class IotConfig(AppConfig):
    name = "iot"
    verbose_name = "Court operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The access-control family (Ziggy) joins the integrations registry, and the webhook
        # handlers join the webhooks framework, in every process (web, worker, beat, ingester).
        from iot import families  # noqa: F401
        from iot.handlers import register

        register()
