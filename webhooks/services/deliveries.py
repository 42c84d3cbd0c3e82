"""Outbound deliveries: outbox events fanned out to endpoints, signed, sent, retried.

Every (endpoint, event) pair is one `WebhookDelivery` row whose `next_attempt_at` says when it
is due; Celery messages only nudge. A worker claims a due row (row lock, skip locked), leases
it by moving `next_attempt_at` past the request timeout, sends outside any transaction, and
records the attempt. If the worker dies, the lease runs out and beat sends it again.

Outcomes: 2xx succeeded; 410 disables the endpoint at once; anything else (and network
errors) retries on settings.WEBHOOK_RETRY_SCHEDULE_SECONDS with jitter, waiting at least a
429/503's Retry-After, until the schedule runs out. The tenant hears through its other
endpoints when one starts failing, recovers, runs out of retries or is disabled.
"""
from __future__ import annotations

import http.client
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from adapters.http import parse_retry_after
from adapters.signing import standard_webhooks_sign, standard_webhooks_sign_ed25519
from integrations.errors import ApplicationError
from integrations.models import OutboxEvent
from integrations.secrets.services import secret_resolve
from webhooks import transport
from webhooks.metrics import webhook_deliveries_total, webhook_delivery_duration_seconds
from webhooks.models import DeliveryAttempt, SigningScheme, WebhookDelivery, WebhookEndpoint
from webhooks.services.endpoints import ALL_EVENTS, endpoint_disable, endpoint_notify
from webhooks.ssrf import TargetRefused, target_check

logger = logging.getLogger(__name__)
TEST_EVENT = "webhook.test"
ENDPOINT_EVENT_PREFIX = "webhook_endpoint."
USER_AGENT = "IntegrationHub-Webhooks/1"
_BATCH = 500
_LEASE_MARGIN_SECONDS = 30
_EXHAUSTED_NOTICE_SECONDS = 3600  # at most one "exhausted" notice per endpoint per hour
_RETRYABLE_WAIT_STATUSES = (429, 503)


def _payload(event: OutboxEvent) -> dict:
    return {"type": event.event_type, "timestamp": event.created_at.isoformat(), "data": event.data}


def _wants(endpoint: WebhookEndpoint, event: OutboxEvent) -> bool:
    if event.event_type.startswith(ENDPOINT_EVENT_PREFIX) and event.data.get("endpoint_id") == str(endpoint.pk):
        return False  # never tell an endpoint about its own failures: that is how loops start
    return ALL_EVENTS in endpoint.event_types or event.event_type in endpoint.event_types


def outbox_fan_out(*, batch: int = _BATCH) -> int:
    """Turn undispatched outbox events into deliveries for the tenant's matching enabled
    endpoints; returns how many deliveries were created."""
    now = timezone.now()
    with transaction.atomic():
        events = list(OutboxEvent.objects.select_for_update(skip_locked=True)
                      .filter(dispatched_at__isnull=True).order_by("created_at")[:batch])
        if not events:
            return 0
        endpoints: dict = {}
        for endpoint in WebhookEndpoint.objects.filter(tenant_id__in={e.tenant_id for e in events}, enabled=True):
            endpoints.setdefault(endpoint.tenant_id, []).append(endpoint)
        deliveries = [
            WebhookDelivery(tenant_id=event.tenant_id, endpoint=endpoint, event=event, event_type=event.event_type,
                            message_id=str(event.pk), payload=_payload(event), next_attempt_at=now)
            for event in events for endpoint in endpoints.get(event.tenant_id, ()) if _wants(endpoint, event)
        ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        OutboxEvent.objects.filter(pk__in=[event.pk for event in events]).update(dispatched_at=now)
        delivery_ids = [delivery.pk for delivery in deliveries]
        transaction.on_commit(lambda: _nudge(delivery_ids))
    return len(deliveries)


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `webhook.test` event to this endpoint only (it is never fanned out)."""
    now = timezone.now()
    with transaction.atomic():
        event = OutboxEvent.objects.create(
            tenant_id=endpoint.tenant_id, event_type=TEST_EVENT, dispatched_at=now,
            data={"endpoint_id": str(endpoint.pk), "message": "A test event from the integration hub."})
        delivery = WebhookDelivery.objects.create(
            tenant_id=endpoint.tenant_id, endpoint=endpoint, event=event, event_type=TEST_EVENT,
            message_id=str(event.pk), payload=_payload(event), next_attempt_at=now)
        transaction.on_commit(lambda: _nudge([delivery.pk]))
    return delivery


def _nudge(delivery_ids: list) -> None:
    from webhooks.tasks import delivery_attempt as delivery_attempt_task

    for delivery_id in delivery_ids:
        try:
            delivery_attempt_task.delay(str(delivery_id))
        except Exception:  # broker down: the row is due, so beat sends it
            logger.warning("could not enqueue a webhook delivery; beat will send it", exc_info=True)
            return


def deliveries_dispatch_due(*, batch: int = _BATCH) -> int:
    """Nudge every pending delivery whose time has come (retries, lost messages, dead workers)."""
    due = list(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING,
                                              next_attempt_at__lte=timezone.now())
               .order_by("next_attempt_at").values_list("pk", flat=True)[:batch])
    _nudge(due)
    return len(due)


def _rate_allows(endpoint: WebhookEndpoint) -> bool:
    """A per-endpoint, per-second counter in the shared cache (Redis in deployments), so every
    worker together stays within the endpoint's rate_limit_per_second."""
    if not endpoint.rate_limit_per_second:
        return True
    key = f"webhooks:rate:{endpoint.pk}:{int(time.time())}"
    cache.add(key, 0, timeout=5)
    try:
        return cache.incr(key) <= endpoint.rate_limit_per_second
    except ValueError:  # the key expired between add and incr: a fresh second
        return True


def _claim(delivery_id) -> WebhookDelivery | None:
    now = timezone.now()
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("endpoint", "endpoint__tenant")
                    .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now).first())
        if delivery is None:
            return None
        endpoint = delivery.endpoint
        if not endpoint.enabled and delivery.event_type != TEST_EVENT:
            delivery.status, delivery.last_error = WebhookDelivery.Status.FAILED, "the endpoint is disabled"
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "last_error", "next_attempt_at", "updated_at"])
            return None
        if not _rate_allows(endpoint):
            webhook_deliveries_total.labels("rate_limited").inc()
            delivery.next_attempt_at = now + timedelta(seconds=random.uniform(1.0, 2.0))
            delivery.save(update_fields=["next_attempt_at", "updated_at"])
            return None
        delivery.attempts += 1
        lease = settings.WEBHOOK_DELIVERY_TIMEOUT_SECONDS + _LEASE_MARGIN_SECONDS
        delivery.next_attempt_at = now + timedelta(seconds=lease)
        delivery.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
    return delivery


def _sign(endpoint: WebhookEndpoint, *, ref: str, ed25519: bool, msg_id: str, timestamp: int, body: bytes) -> str:
    key = secret_resolve(tenant=endpoint.tenant, ref=ref)
    if ed25519:
        return standard_webhooks_sign_ed25519(key, msg_id, timestamp, body)
    return standard_webhooks_sign(key, msg_id, timestamp, body)


def signature_headers(endpoint: WebhookEndpoint, *, msg_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """Standard Webhooks headers; during a rotation's overlap both keys sign."""
    timestamp = int(now.timestamp())
    signatures = [_sign(endpoint, ref=endpoint.secret_ref, ed25519=endpoint.signing_scheme == SigningScheme.V1A,
                        msg_id=msg_id, timestamp=timestamp, body=body)]
    if (endpoint.previous_secret_ref and endpoint.previous_secret_expires_at
            and endpoint.previous_secret_expires_at > now):
        signatures.append(_sign(endpoint, ref=endpoint.previous_secret_ref, ed25519=bool(endpoint.previous_public_key),
                                msg_id=msg_id, timestamp=timestamp, body=body))
    return {"content-type": "application/json", "user-agent": USER_AGENT, "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp), "webhook-signature": " ".join(signatures)}


@dataclass
class _Outcome:
    kind: str  # success | gone | refused | http_error | network_error
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None


def _send(delivery: WebhookDelivery) -> _Outcome:
    endpoint = delivery.endpoint
    try:
        target = target_check(endpoint.url)  # again at send time: DNS may have changed
        body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = signature_headers(endpoint, msg_id=delivery.message_id, body=body, now=timezone.now())
        result = transport.post(target, body=body, headers=headers, timeout=settings.WEBHOOK_DELIVERY_TIMEOUT_SECONDS)
    except TargetRefused as exc:
        return _Outcome("refused", error=exc.detail)
    except ApplicationError as exc:  # the signing key does not resolve
        return _Outcome("network_error", error=f"signing key unavailable: {exc.detail}")
    except (OSError, http.client.HTTPException) as exc:
        return _Outcome("network_error", error=f"{exc.__class__.__name__}: {exc}"[:1000])
    if 200 <= result.status < 300:
        return _Outcome("success", result.status, result.excerpt)
    kind = "gone" if result.status == 410 else "http_error"
    retry_after = (parse_retry_after(result.headers.get("retry-after"))
                   if result.status in _RETRYABLE_WAIT_STATUSES else None)
    return _Outcome(kind, result.status, result.excerpt, f"the receiver answered {result.status}", retry_after)


def delivery_attempt(*, delivery_id) -> WebhookDelivery | None:
    """One attempt of a due delivery; None when it is not due, already done or held elsewhere."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    started = time.perf_counter()
    outcome = _send(delivery)
    latency = time.perf_counter() - started
    webhook_deliveries_total.labels(outcome.kind).inc()
    webhook_delivery_duration_seconds.observe(latency)
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            tenant_id=delivery.tenant_id, delivery=delivery, number=delivery.attempt_log.count() + 1,
            status_code=outcome.status_code, latency_ms=int(latency * 1000),
            response_excerpt=outcome.excerpt[:transport.EXCERPT_BYTES], error=outcome.error)
        _apply(delivery, outcome)
    return delivery


def _apply(delivery: WebhookDelivery, outcome: _Outcome) -> None:
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
    if outcome.kind == "success":
        delivery.status, delivery.succeeded_at, delivery.next_attempt_at = WebhookDelivery.Status.SUCCEEDED, now, None
        if endpoint.failing_since:
            endpoint_notify(endpoint=endpoint, event_type="webhook_endpoint.recovered",
                            failing_since=endpoint.failing_since.isoformat())
        endpoint.failing_since, endpoint.last_success_at = None, now
        endpoint.save(update_fields=["failing_since", "last_success_at", "updated_at"])
    elif outcome.kind in ("gone", "refused"):
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        if outcome.kind == "gone":
            endpoint_disable(endpoint_id=endpoint.pk, reason="the receiver answered 410 Gone")
    else:
        _schedule_retry(delivery, endpoint, outcome, now)
    delivery.save(update_fields=["status", "succeeded_at", "next_attempt_at", "last_status_code", "last_error",
                                 "updated_at"])


def _schedule_retry(delivery: WebhookDelivery, endpoint: WebhookEndpoint, outcome: _Outcome, now) -> None:
    schedule = settings.WEBHOOK_RETRY_SCHEDULE_SECONDS
    if not endpoint.failing_since:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since", "updated_at"])
        endpoint_notify(endpoint=endpoint, event_type="webhook_endpoint.failing", error=outcome.error)
    elif now - endpoint.failing_since >= settings.WEBHOOK_ENDPOINT_DISABLE_AFTER:
        endpoint_disable(endpoint_id=endpoint.pk,
                         reason=f"no successful delivery since {endpoint.failing_since.isoformat()}")
    if delivery.attempts > len(schedule):
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        if cache.add(f"webhooks:exhausted:{endpoint.pk}", 1, timeout=_EXHAUSTED_NOTICE_SECONDS):
            endpoint_notify(endpoint=endpoint, event_type="webhook_endpoint.exhausted",
                            delivery_id=str(delivery.pk), event_type_exhausted=delivery.event_type,
                            attempts=delivery.attempts)
        return
    wait = schedule[delivery.attempts - 1] * random.uniform(0.9, 1.1)
    wait = max(wait, outcome.retry_after or 0)
    delivery.next_attempt_at = now + timedelta(seconds=wait)


def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again from the start of the schedule, with the same webhook-id."""
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error="",
            succeeded_at=None, updated_at=timezone.now())
        transaction.on_commit(lambda: _nudge([delivery.pk]))
    delivery.refresh_from_db()
    return delivery


def deliveries_replay_failed(*, endpoint: WebhookEndpoint, since: datetime) -> int:
    """Queue every failed delivery of the endpoint created since `since` again."""
    now = timezone.now()
    with transaction.atomic():
        failed = WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.FAILED,
                                                created_at__gte=since)
        delivery_ids = list(failed.values_list("pk", flat=True))
        WebhookDelivery.objects.filter(pk__in=delivery_ids).update(
            status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=now, last_error="", updated_at=now)
        transaction.on_commit(lambda: _nudge(delivery_ids[:_BATCH]))  # beat sends the rest
    return len(delivery_ids)
