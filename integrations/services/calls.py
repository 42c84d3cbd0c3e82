"""Every outbound provider call an integration makes goes through `integration_call`:
quota check, breaker, retries, usage counting, metrics and redacted logging."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from adapters.resilience import CallContext, RetryPolicy, call_provider
from integrations.errors import ApplicationError
from integrations.models import Integration
from integrations.selectors.usage import usage_quota_used
from integrations.services.usage import UsageObserver

T = TypeVar("T")
_PERIOD_ADJECTIVE = {"day": "daily", "month": "monthly"}


class QuotaExceeded(ApplicationError):
    status = 429
    code = "quota_exceeded"
    title = "Quota exhausted"


def default_retry_policy() -> RetryPolicy:
    return RetryPolicy(attempts=settings.RESILIENCE_RETRY_ATTEMPTS,
                       initial_wait=settings.RESILIENCE_RETRY_INITIAL_WAIT_SECONDS,
                       max_wait=settings.RESILIENCE_RETRY_MAX_WAIT_SECONDS)


def call_context(integration: Integration, operation: str) -> CallContext:
    return CallContext(provider=integration.provider, config_key=str(integration.pk),
                       family=integration.family, operation=operation)


def integration_quota_check(*, integration: Integration) -> None:
    """Refuse a call over the integration's quota before it reaches the provider."""
    if integration.quota_limit is None:
        return
    used = usage_quota_used(integration=integration)
    if used >= integration.quota_limit:
        raise QuotaExceeded(
            f"the {_PERIOD_ADJECTIVE[integration.quota_period]} quota of {integration.quota_limit} calls for "
            f"'{integration.display_name}' is used up",
            extra={"quota_limit": integration.quota_limit, "quota_used": used})


def integration_call(*, integration: Integration, operation: str, fn: Callable[[], T],
                     policy: RetryPolicy | None = None, check_quota: bool = True) -> T:
    if check_quota:
        integration_quota_check(integration=integration)
    return call_provider(call_context(integration, operation), fn, policy=policy or default_retry_policy(),
                         observer=UsageObserver(integration))
