"""Writes of integrations: create, update, pre-flight validation."""
from __future__ import annotations

import logging
import time

from django.db import transaction
from django.utils import timezone

from adapters.errors import ProviderError
from adapters.resilience import RetryPolicy
from integrations.errors import ApplicationError, Conflict
from integrations.families.registry import FamilySpec, family_spec
from integrations.lifecycle import Status
from integrations.models import Integration, ValidationRun
from integrations.services.calls import integration_call

logger = logging.getLogger(__name__)
# A pre-flight call answers the user now: one quick retry for a blip, never a long wait.
VALIDATION_POLICY = RetryPolicy(attempts=2, initial_wait=0.2, max_wait=2.0)


def integration_create(*, tenant, spec: FamilySpec, data: dict, actor: str) -> Integration:
    integration = spec.model(tenant=tenant, family=spec.slug, **data)
    integration.save()
    logger.info("integration created", extra={"integration_id": str(integration.pk), "family": spec.slug,
                                               "provider": integration.provider, "actor": actor})
    return integration


def integration_update(*, integration: Integration, data: dict, actor: str) -> Integration:
    with transaction.atomic():
        locked = type(integration).objects.select_for_update().get(pk=integration.pk)
        if locked.status == Status.DECOMMISSIONED:
            raise Conflict("a decommissioned integration cannot be changed")
        changed = [name for name, value in data.items() if getattr(locked, name) != value]
        for name in changed:
            setattr(locked, name, data[name])
        if changed:
            # Any change makes an earlier validation stale for the next activation.
            locked.config_changed_at = timezone.now()
            locked.save()
    logger.info("integration updated", extra={"integration_id": str(locked.pk), "fields": ",".join(changed),
                                               "actor": actor})
    return locked


def integration_validate(*, integration: Integration, actor: str) -> ValidationRun:
    """Resolve the refs and make a real, cheap authenticated call; record the outcome."""
    from integrations.secrets.services import secret_resolve

    integration = integration.specific()
    if integration.status == Status.DECOMMISSIONED:
        raise Conflict("a decommissioned integration cannot be validated")
    binding = family_spec(integration.family).binding(integration.provider)
    validated_at = timezone.now()  # a change made while the call runs must make this run stale
    started = time.perf_counter()
    try:
        missing = [name for name in binding.required_refs if not getattr(integration, name, "")]
        if missing:
            raise _PreflightFailed(f"missing credential refs: {', '.join(missing)}")
        config = binding.build_config(integration, lambda ref: secret_resolve(tenant=integration.tenant, ref=ref))
        if binding.sandbox_check and (problem := binding.sandbox_check(integration, config)):
            raise _PreflightFailed(problem)
        result = integration_call(integration=integration, operation="validate",
                                  fn=lambda: binding.validate(config), policy=VALIDATION_POLICY, check_quota=False)
        passed, message = True, result.message
    except _PreflightFailed as exc:
        passed, message = False, str(exc)
    except ApplicationError as exc:  # a ref that does not resolve, a backend that is down
        passed, message = False, exc.detail
    except ProviderError as exc:
        passed, message = False, f"{binding.display_name} answered: {exc}"
    latency_ms = int((time.perf_counter() - started) * 1000)
    with transaction.atomic():
        run = ValidationRun.objects.create(tenant_id=integration.tenant_id, integration_id=integration.pk,
                                           passed=passed, message=message[:1000], actor=actor,
                                           latency_ms=latency_ms)
        Integration.objects.filter(pk=integration.pk).update(last_validated_at=validated_at, last_validation_passed=passed,
                                                             last_validation_message=message[:1000])
    return run


class _PreflightFailed(Exception):
    pass
