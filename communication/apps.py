from django.apps import AppConfig


class CommunicationConfig(AppConfig):
    name = "communication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the communication family's provider bindings with the integrations
        # registry, and each channel's dead-letter replay, in every process (web, worker, beat).
        from communication import specs  # noqa: F401
        from communication.handlers import register as register_tracking_handlers
        from communication.services import email, push, sms, whatsapp  # noqa: F401

        # Delivery reports and inbound messages, on the webhooks framework.
        register_tracking_handlers()
