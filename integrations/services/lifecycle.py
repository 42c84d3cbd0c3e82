"""Status changes of integrations and communication configs: the only place they happen."""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations.errors import InvalidTransition, NotFound, ValidationFailed
from integrations.lifecycle import Action, Status, TransitionNotAllowed, needs_fresh_validation, target_status
from integrations.models import Integration, LifecycleTransition

logger = logging.getLogger(__name__)
SYSTEM_ACTOR = "system"


def integration_transition(*, integration: Integration, action: str, actor: str, reason: str = "") -> Integration:
    """Lock the row, check the transition table, apply it and record who, when, from, to, why."""
    try:
        action = Action(action)
    except ValueError:
        raise InvalidTransition(f"unknown action '{action}'") from None
    with transaction.atomic():
        locked = Integration.objects.select_for_update().filter(pk=integration.pk).first()
        if locked is None:
            raise NotFound("integration not found")
        current = Status(locked.status)
        try:
            to = target_status(action, current)
        except TransitionNotAllowed as exc:
            raise InvalidTransition(str(exc), extra={"current_status": current.value,
                                                     "allowed_actions": exc.allowed}) from None
        if needs_fresh_validation(current, to) and not locked.validation_is_fresh:
            raise ValidationFailed(
                f"cannot {action.value}: run validate/ first; a passed validation newer than the last "
                "change to this integration is required",
                extra={"current_status": current.value,
                       "last_validated_at": locked.last_validated_at.isoformat() if locked.last_validated_at else None,
                       "last_validation_passed": locked.last_validation_passed})
        now = timezone.now()
        Integration.objects.filter(pk=locked.pk).update(
            status=to.value, status_reason=reason[:500], status_changed_at=now,
            consecutive_auth_failures=0 if to == Status.ACTIVE else F("consecutive_auth_failures"))
        LifecycleTransition.objects.create(tenant_id=locked.tenant_id, integration_id=locked.pk, action=action.value,
                                           from_status=current.value, to_status=to.value, actor=actor,
                                           reason=reason[:1000])
        from integrations.events import event_emit  # the outbound event lands in the same transaction

        event_emit(tenant_id=locked.tenant_id, event_type=f"integration.{_EVENT_FOR_STATUS[to]}",
                   data={"integration_id": str(locked.pk), "family": locked.family, "provider": locked.provider,
                         "from": current.value, "to": to.value, "reason": reason[:500]})
    logger.info("integration transition", extra={"integration_id": str(integration.pk), "from_status": current.value,
                                                   "to_status": to.value, "actor": actor})
    integration.refresh_from_db()
    return integration


_EVENT_FOR_STATUS = {Status.ACTIVE: "activated", Status.PAUSED: "paused", Status.ERROR: "error",
                     Status.DECOMMISSIONED: "decommissioned", Status.DRAFT: "draft"}


def integration_record_credential_failure(*, integration_id, message: str) -> None:
    """Count a credential failure; past the threshold an active integration moves to `error`."""
    Integration.objects.filter(pk=integration_id).update(consecutive_auth_failures=F("consecutive_auth_failures") + 1)
    integration = Integration.objects.filter(pk=integration_id).first()
    if (integration is not None and integration.status == Status.ACTIVE
            and integration.consecutive_auth_failures >= settings.CREDENTIAL_FAILURES_BEFORE_ERROR):
        try:
            integration_transition(integration=integration, action=Action.FAIL, actor=SYSTEM_ACTOR,
                                   reason=f"{integration.consecutive_auth_failures} consecutive credential "
                                          f"failures: {message}")
        except InvalidTransition:
            pass  # another worker moved it first


def integration_record_credential_success(*, integration_id) -> None:
    Integration.objects.filter(pk=integration_id, consecutive_auth_failures__gt=0).update(consecutive_auth_failures=0)
