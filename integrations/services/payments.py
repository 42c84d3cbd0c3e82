"""Payments through a payment-gateway integration: written queued, submitted by a task.

The gateway's idempotency key is the payment's own id, so a submission repeated after a
worker died mid-call never creates a second charge.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from adapters.errors import ProviderError
from adapters.providers import stripe as stripe_adapter
from integrations.errors import ApplicationError, Conflict
from integrations.families.registry import family_spec
from integrations.lifecycle import Status
from integrations.models import Payment, PaymentGatewayIntegration
from integrations.services.calls import integration_call
from integrations.services.deadletters import dead_letter_create, register_replay

logger = logging.getLogger(__name__)
PAYMENT_SUBMIT = "payment.submit"
_PAYMENT_CREATORS = {stripe_adapter.key: stripe_adapter.create_payment_intent}


class RetryLater(Exception):
    """A retryable provider failure: the task reschedules itself."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


def payment_create(*, tenant, integration: PaymentGatewayIntegration, amount: int, currency: str,
                   description: str = "", customer_email: str = "", metadata: dict | None = None,
                   idempotency_key: str | None = None) -> Payment:
    if integration.status in (Status.DRAFT, Status.DECOMMISSIONED, Status.ERROR):
        raise Conflict(f"the integration is {integration.status}; payments need an active (or paused) gateway")
    if currency not in integration.supported_currencies:
        raise ApplicationError(f"'{currency}' is not among this gateway's supported currencies",
                               extra={"errors": {"currency": [f"must be one of {', '.join(integration.supported_currencies)}"]}})
    try:
        with transaction.atomic():
            payment = Payment.objects.create(tenant=tenant, integration=integration, amount=amount, currency=currency,
                                             description=description, customer_email=customer_email,
                                             metadata=metadata or {}, idempotency_key=idempotency_key)
            transaction.on_commit(lambda: _enqueue(payment.pk))
    except IntegrityError:
        existing = Payment.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
    return payment


def _enqueue(payment_id) -> None:
    from integrations.tasks import payment_submit as payment_submit_task

    payment_submit_task.delay(str(payment_id))


def _claim(payment_id) -> Payment | None:
    """Move a queued payment to submitting, unless another worker holds it or its gateway is paused."""
    with transaction.atomic():
        payment = (Payment.objects.select_for_update(skip_locked=True).select_related("integration")
                   .filter(pk=payment_id, status=Payment.Status.QUEUED).first())
        if payment is None or payment.integration.status != Status.ACTIVE:
            return None  # already claimed, finished, or held by a paused gateway
        payment.status = Payment.Status.SUBMITTING
        payment.attempts += 1
        payment.claimed_at = timezone.now()
        payment.save(update_fields=["status", "attempts", "claimed_at", "updated_at"])
    return payment


def payment_submit(*, payment_id, final_attempt: bool) -> Payment | None:
    """Submit one payment to its gateway. Raises RetryLater on a retryable failure unless final."""
    from integrations.secrets.services import secret_resolve

    payment = _claim(payment_id)
    if payment is None:
        return None
    integration = payment.integration
    try:
        create = _PAYMENT_CREATORS.get(integration.provider)
        if create is None:
            raise ApplicationError(f"payments through '{integration.provider}' are not supported")
        binding = family_spec(integration.family).binding(integration.provider)
        config = binding.build_config(integration, lambda ref: secret_resolve(tenant=integration.tenant, ref=ref))
        result = integration_call(
            integration=integration, operation="payment.create",
            fn=lambda: create(config, amount=payment.amount, currency=payment.currency,
                              description=payment.description, receipt_email=payment.customer_email,
                              metadata=payment.metadata | {"hub_payment_id": str(payment.pk)},
                              idempotency_key=f"hub-payment-{payment.pk}"))
    except ProviderError as exc:
        return _payment_failed(payment, exc, final_attempt=final_attempt)
    except ApplicationError as exc:  # credentials that do not resolve, quota used up
        return _payment_failed(payment, ProviderError(exc.detail, provider=integration.provider, retryable=False),
                               final_attempt=True)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        payment.provider_payment_id = result.provider_payment_id
        payment.client_secret_present = result.client_secret_present
        payment.last_error = ""
        # The gateway's webhook may have reported a later state before this answer was saved.
        if _STATUS_RANK[Payment.Status(result.status)] > _STATUS_RANK[Payment.Status(payment.status)]:
            payment.status = result.status
        payment.save(update_fields=["status", "provider_payment_id", "client_secret_present", "last_error",
                                    "updated_at"])
    return payment


def _payment_failed(payment: Payment, error: ProviderError, *, final_attempt: bool) -> Payment:
    if error.retryable and not final_attempt:
        Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.QUEUED, last_error=str(error)[:1000])
        raise RetryLater(error)
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.FAILED, last_error=str(error)[:1000])
    if error.retryable:  # retries ran out on a failure that might pass later: keep it replayable
        dead_letter_create(tenant_id=payment.tenant_id, operation=PAYMENT_SUBMIT, payload={"payment_id": str(payment.pk)},
                           error=str(error), error_code=error.__class__.__name__, attempts=payment.attempts,
                           integration_id=payment.integration_id, subject_id=str(payment.pk))
    payment.refresh_from_db()
    return payment


@register_replay(PAYMENT_SUBMIT)
def _replay_payment_submit(dead_letter) -> None:
    payment_id = dead_letter.payload["payment_id"]
    updated = Payment.objects.filter(pk=payment_id, tenant_id=dead_letter.tenant_id,
                                     status=Payment.Status.FAILED).update(status=Payment.Status.QUEUED)
    if not updated:
        raise Conflict("the payment is no longer in a failed state")
    payment = payment_submit(payment_id=payment_id, final_attempt=True)
    if payment is None or payment.status == Payment.Status.FAILED:
        raise Conflict(payment.last_error if payment else "the payment could not be claimed")


def payments_requeue_stale() -> int:
    """Re-enqueue payments whose broker message was lost or whose worker died mid-call."""
    now = timezone.now()
    Payment.objects.filter(status=Payment.Status.SUBMITTING,
                           claimed_at__lt=now - timedelta(seconds=settings.STALE_CLAIM_SECONDS)).update(
        status=Payment.Status.QUEUED)
    stale = list(Payment.objects.filter(status=Payment.Status.QUEUED, integration__status=Status.ACTIVE,
                                        updated_at__lt=now - timedelta(seconds=settings.STALE_QUEUED_SECONDS))
                 .values_list("pk", flat=True)[:1000])
    for payment_id in stale:
        _enqueue(payment_id)
    return len(stale)


# How far along a payment is. A gateway report moves a payment only to a later rank, so a
# late or repeated webhook never undoes a newer state. A failed attempt may still be followed
# by success (the customer retries with another card), which is why failed ranks below both
# terminal states.
_STATUS_RANK = {
    Payment.Status.QUEUED: 0, Payment.Status.SUBMITTING: 1, Payment.Status.SUBMITTED: 2,
    Payment.Status.REQUIRES_ACTION: 3, Payment.Status.PROCESSING: 4, Payment.Status.FAILED: 5,
    Payment.Status.SUCCEEDED: 6, Payment.Status.CANCELED: 6,
}
_STATUS_EVENTS = {Payment.Status.SUCCEEDED: "payment.succeeded", Payment.Status.FAILED: "payment.failed"}


def payment_status_from_gateway(*, tenant_id, integration_id, provider_payment_id: str, status: str,
                                reason: str = "", hub_payment_id: str | None = None) -> Payment | None:
    """Apply a status the gateway reported (a webhook) to the payment it names.

    Returns the payment when it moved, None when no payment of this gateway has that id or
    the report is not newer than what is recorded. Emits payment.succeeded / payment.failed
    to the tenant's outbox in the same transaction."""
    from integrations.events import event_emit

    new_status = Payment.Status(status)
    with transaction.atomic():
        payments = Payment.objects.select_for_update().filter(tenant_id=tenant_id, integration_id=integration_id)
        payment = payments.filter(provider_payment_id=provider_payment_id).first()
        if payment is None and hub_payment_id:
            # The webhook beat the submission's answer: the intent carries our id in its metadata.
            payment = payments.filter(pk=_uuid_or_none(hub_payment_id), provider_payment_id="").first()
        if payment is None or _STATUS_RANK[new_status] <= _STATUS_RANK[Payment.Status(payment.status)]:
            return None
        payment.provider_payment_id = provider_payment_id
        payment.status = new_status
        payment.last_error = reason[:1000] if new_status == Payment.Status.FAILED else ""
        payment.save(update_fields=["status", "provider_payment_id", "last_error", "updated_at"])
        event_type = _STATUS_EVENTS.get(new_status)
        if event_type:
            event_emit(tenant_id=tenant_id, event_type=event_type,
                       data={"payment_id": str(payment.pk), "provider_payment_id": provider_payment_id,
                             "amount": payment.amount, "currency": payment.currency, "status": new_status.value})
    return payment


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
