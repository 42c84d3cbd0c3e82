"""SMS: segments counted, numbers normalised, written queued with a route, delivered by a task
through 46elks or Twilio (46elks first for Swedish numbers, Twilio as the fallback).

Segments (3GPP TS 23.038 / 23.040): a body made only of GSM-7 characters is 7-bit, 160
septets in one SMS or 153 per part of a longer one, the extension characters ^{}\\[~]|€ and
form feed taking two septets (escape + character) that never straddle two parts. Any other
character makes the whole body UCS-2: 70 UTF-16 code units in one SMS or 67 per part, a
character outside the BMP (most emoji) taking two units, never split across parts.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from django.core.cache import cache
from django.db import IntegrityError, transaction

from adapters.errors import ProviderError
from adapters.providers import elks46 as elks_adapter
from adapters.providers import twilio as twilio_adapter
from adapters.types import OutboundSms, SendResult
from communication.models import DeliveryAttempt, ElksConfig, SmsMessage, TwilioConfig
from communication.services import attempts, inflight
from communication.services.routing import (
    phone_normalise,
    provider_config,
    sms_route,
    twilio_number,
)
from integrations.errors import ApplicationError
from integrations.families.registry import family_spec
from integrations.services.calls import integration_call

logger = logging.getLogger(__name__)
SMS_SEND = "sms.send"
MAX_BODY_CHARACTERS = 1600
ELKS_CURRENCY_CACHE_SECONDS = 24 * 3600

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
SINGLE = {"GSM-7": 160, "UCS-2": 70}
PER_PART = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class Segmentation:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def _unit_sizes(body: str) -> tuple[str, list[int]]:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body):
        return "GSM-7", [2 if ch in GSM7_EXTENSION else 1 for ch in body]
    return "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in body]


def sms_segments(body: str) -> Segmentation:
    """How many SMS parts `body` is sent as, and in which encoding."""
    encoding, sizes = _unit_sizes(body)
    total = sum(sizes)
    if total <= SINGLE[encoding]:
        return Segmentation(encoding=encoding, units=total, segments=1)
    segments, filled = 1, 0
    for size in sizes:  # a two-unit character never straddles two parts
        if filled + size > PER_PART[encoding]:
            segments, filled = segments + 1, 0
        filled += size
    return Segmentation(encoding=encoding, units=total, segments=segments)


def is_gsm7_text(text: str) -> bool:
    return all(ch in GSM7_BASIC for ch in text)


# --- the channel ---------------------------------------------------------------------------


def _adapter_config(config, resolve):
    return family_spec(config.family).binding(config.provider).build_config(config, resolve)


def elks_delivery_report_url(config: ElksConfig, resolve) -> str:
    """The tenant's own URL, or this config's webhook URL with its token (46elks signs nothing;
    the token in the URL is what the webhook checks)."""
    from integrations.selectors.integrations import integration_webhook_url

    if config.dlr_callback_url:
        return config.dlr_callback_url
    base = integration_webhook_url(integration=config)
    if not base or not config.webhook_token_ref:
        return ""
    return f"{base}?{elks_adapter.TOKEN_QUERY_PARAMETER}={resolve(config.webhook_token_ref)}"


def _prepare(config, message: SmsMessage, resolve):
    from integrations.selectors.integrations import integration_webhook_url

    adapter_config = _adapter_config(config, resolve)
    sms = OutboundSms(reference=str(message.pk), to=message.to, body=message.body)
    if config.provider == elks_adapter.key:
        report_url = elks_delivery_report_url(config, resolve)

        def send() -> SendResult:
            return elks_adapter.send_sms(adapter_config, sms, delivery_report_url=report_url)
    else:
        callback_url = (
            config.status_callback_url or integration_webhook_url(integration=config) or ""
        )

        def send() -> SendResult:
            return twilio_adapter.send_sms(adapter_config, sms, status_callback_url=callback_url)

    def request() -> SendResult:
        # Neither provider takes an idempotency key: mark the claim dispatched first.
        inflight.dispatch_mark(channel=SMS_CHANNEL, message=message, config=config)
        return send()

    return request


def _elks_account_currency(config: ElksConfig) -> str:
    """46elks states costs without a currency; the account's currency is on GET /a1/me. Read
    once a day per config, and never allowed to fail a send that has already happened."""
    from integrations.secrets.services import secret_resolve

    cache_key = f"hub:communication:elks46:{config.pk}:currency"
    currency = cache.get(cache_key)
    if currency is None:
        try:
            adapter_config = _adapter_config(
                config, lambda ref: secret_resolve(tenant=config.tenant, ref=ref)
            )
            currency = integration_call(
                integration=config,
                operation="account.get",
                fn=lambda: elks_adapter.account(adapter_config).currency,
            )
        except (ProviderError, ApplicationError):
            logger.warning(
                "46elks account currency unavailable", extra={"config_id": str(config.pk)}
            )
            return ""
        cache.set(cache_key, currency, ELKS_CURRENCY_CACHE_SECONDS)
    return currency


def _sent_fields(config, message: SmsMessage, result: SendResult) -> dict:
    fields = {
        "cost_amount": result.cost_amount,
        "cost_currency": result.cost_currency,
        "metadata": message.metadata
        | {"provider": {k: v for k, v in result.details.items() if v is not None}},
    }
    if config.provider == elks_adapter.key:
        fields["from_number"] = config.sender_id[:16]
        if result.cost_amount is not None and not result.cost_currency:
            fields["cost_currency"] = _elks_account_currency(config)
    else:
        fields["from_number"] = config.from_number
    return fields


def _enqueue(message_id: str) -> None:
    from communication.tasks import sms_deliver as sms_deliver_task

    sms_deliver_task.delay(message_id)


SMS_CHANNEL = attempts.Channel(
    kind=DeliveryAttempt.Kind.SMS,
    model=SmsMessage,
    operation=SMS_SEND,
    prepare=_prepare,
    enqueue=_enqueue,
    sent_fields=_sent_fields,
)
attempts.register_channel_replay(SMS_CHANNEL)

SMS_PROVIDERS = {elks_adapter.key: ElksConfig, twilio_adapter.key: TwilioConfig}


# --- sending -------------------------------------------------------------------------------


def sms_send(
    *,
    tenant,
    to: str,
    body: str,
    provider: str | None = None,
    config_id=None,
    idempotency_key: str | None = None,
    notification=None,
) -> SmsMessage:
    """Write the SMS queued and enqueue its delivery on commit. Without a provider it is
    routed by country; the same idempotency key returns the message it first created."""
    if not body or len(body) > MAX_BODY_CHARACTERS:
        raise ApplicationError(
            f"the body is 1 to {MAX_BODY_CHARACTERS} characters",
            extra={"errors": {"body": [f"1 to {MAX_BODY_CHARACTERS} characters"]}},
        )
    if idempotency_key and (existing := _existing(tenant, idempotency_key)) is not None:
        return existing
    if provider is None:
        number, route = sms_route(tenant=tenant, to=to)
    elif provider == elks_adapter.key:
        config = provider_config(
            tenant=tenant, model=ElksConfig, label=elks_adapter.display_name, config_id=config_id
        )
        number, route = (
            phone_normalise(to, default_country_code=config.default_country_code),
            [config],
        )
    else:
        config = provider_config(
            tenant=tenant,
            model=TwilioConfig,
            label=twilio_adapter.display_name,
            config_id=config_id,
        )
        number, route = twilio_number(config=config, to=to), [config]
    segmentation = sms_segments(body)
    try:
        with transaction.atomic():
            message = SmsMessage.objects.create(
                tenant=tenant,
                config=route[0],
                to=number.e164,
                body=body,
                encoding=segmentation.encoding,
                segments=segmentation.segments,
                idempotency_key=idempotency_key,
                notification=notification,
                metadata={
                    attempts.ROUTE: [str(config.pk) for config in route],
                    "country": number.region,
                },
            )
            transaction.on_commit(lambda: _enqueue(str(message.pk)))
    except IntegrityError:
        existing = _existing(tenant, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing
    return message


def _existing(tenant, idempotency_key: str) -> SmsMessage | None:
    return SmsMessage.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()


def sms_deliver(*, message_id, final_attempt: bool) -> SmsMessage | None:
    return attempts.message_deliver(
        channel=SMS_CHANNEL, message_id=message_id, final_attempt=final_attempt
    )


def sms_requeue_stale() -> dict[str, int]:
    return inflight.messages_requeue_stale(channel=SMS_CHANNEL)


def elks_webhook_token_ensure(*, config: ElksConfig) -> ElksConfig:
    """Give a 46elks config the secret its delivery-report URL carries, stored as a ref."""
    from integrations.secrets.services import secret_store

    if config.webhook_token_ref:
        return config
    ref = secret_store(
        tenant=config.tenant,
        name=f"elks46-webhook-token-{config.pk}",
        value=secrets.token_urlsafe(32),
    )
    ElksConfig.objects.filter(pk=config.pk).update(webhook_token_ref=ref)
    config.webhook_token_ref = ref
    return config
