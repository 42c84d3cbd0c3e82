from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from adapters import resilience

        resilience.configure(
            redis_url=settings.REDIS_URL or None,
            fail_max=settings.RESILIENCE_BREAKER_FAIL_MAX,
            reset_timeout=settings.RESILIENCE_BREAKER_RESET_SECONDS,
            retry_policy=resilience.RetryPolicy(attempts=settings.RESILIENCE_RETRY_ATTEMPTS,
                                                max_wait=settings.RESILIENCE_RETRY_MAX_WAIT_SECONDS),
        )
