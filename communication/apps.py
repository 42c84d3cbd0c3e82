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
        _forget_routes_on_config_changes()


def _forget_routes_on_config_changes() -> None:
    """A config saved, deleted or moved through its lifecycle (a LifecycleTransition row) drops
    its tenant's cached routes (communication.services.routing) now and again at commit, so a
    concurrent read of the old state cannot outlive the change in this process."""
    from django.db import transaction
    from django.db.models.signals import post_delete, post_save

    from communication.services.routing import route_cache_forget
    from integrations.models import Integration, LifecycleTransition

    def forget(sender, instance, **kwargs) -> None:
        if isinstance(instance, (Integration, LifecycleTransition)):
            route_cache_forget(instance.tenant_id)
            transaction.on_commit(lambda: route_cache_forget(instance.tenant_id))

    post_save.connect(forget, weak=False, dispatch_uid="communication-route-cache-save")
    post_delete.connect(forget, weak=False, dispatch_uid="communication-route-cache-delete")
