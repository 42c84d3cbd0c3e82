from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the crm/lms/erp families, the webhook handlers and the sync-log echo
        # checker, and the dead-letter replay of failed runs.
        from sync import families, handlers  # noqa: F401
        from sync.services import runs  # noqa: F401
