from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing registers the handlers and the dead-letter replay of "webhook.handle".
        from webhooks import payment_handlers  # noqa: F401
        from webhooks.services import inbound  # noqa: F401
