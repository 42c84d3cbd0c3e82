"""WhatsApp messages through the Cloud API: template or text, written queued, delivered by a
task, every try recorded.

A number without a country code is read in the country of the config's display number.
Template parameters are strings (body text, in order) or typed parameter objects as the Cloud
API takes them (text, currency, date_time, image / video / document), each with an optional
`component` (`body`, or `header`). Delivery follows communication.services.attempts; the
stale-claim sweep is the in-flight one, because the Cloud API takes no idempotency key.
"""
from __future__ import annotations

import phonenumbers
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from adapters.providers import whatsapp as whatsapp_adapter
from communication.models import DeliveryAttempt, WhatsAppConfig, WhatsAppMessage
from communication.selectors import message_filters_apply
from communication.services import attempts, inflight
from communication.services.routing import phone_normalise, provider_config
from integrations.errors import ApplicationError, NotFound
from integrations.families.registry import family_spec

WHATSAPP_SEND = "whatsapp.send"


def outbound_whatsapp(message: WhatsAppMessage) -> whatsapp_adapter.OutboundWhatsApp:
    return whatsapp_adapter.OutboundWhatsApp(
        reference=str(message.pk), to=message.to, kind=message.message_type, template_name=message.template_name,
        language=message.template_language, parameters=tuple(message.template_parameters),
        body=message.body_text, preview_url=bool(message.metadata.get("preview_url")),
        media_url=message.media_url)


def _prepare(config, message: WhatsAppMessage, resolve):
    adapter_config = family_spec(config.family).binding(config.provider).build_config(config, resolve)
    outbound = outbound_whatsapp(message)

    def request():
        inflight.dispatch_mark(channel=WHATSAPP_CHANNEL, message=message, config=config)
        return whatsapp_adapter.send_message(adapter_config, outbound)

    return request


def _sent_fields(config, message: WhatsAppMessage, result) -> dict:
    return {"from_number": config.display_phone_number,
            "metadata": message.metadata | {"provider": dict(result.details)}}


def _enqueue(message_id: str) -> None:
    from communication.tasks import whatsapp_deliver as whatsapp_deliver_task

    whatsapp_deliver_task.delay(message_id)


WHATSAPP_CHANNEL = attempts.Channel(kind=DeliveryAttempt.Kind.WHATSAPP, model=WhatsAppMessage,
                                    operation=WHATSAPP_SEND, prepare=_prepare, enqueue=_enqueue,
                                    sent_fields=_sent_fields)
attempts.register_channel_replay(WHATSAPP_CHANNEL)


def _invalid(field: str, rule: str) -> ApplicationError:
    return ApplicationError(f"'{field}' {rule}", extra={"errors": {field: [rule]}})


def _default_country_code(config: WhatsAppConfig) -> str | None:
    if not config.display_phone_number:
        return None
    try:
        return f"+{phonenumbers.parse(config.display_phone_number, None).country_code}"
    except phonenumbers.NumberParseException:
        return None


def whatsapp_send(*, tenant, to: str, message_type: str, template_name: str = "", template_language: str = "",
                  template_parameters: list | None = None, body_text: str = "", preview_url: bool = False,
                  media_url: str = "", config_id=None, idempotency_key: str | None = None,
                  notification=None) -> WhatsAppMessage:
    """Write the message queued and enqueue its delivery on commit. The same idempotency key
    returns the message it first created."""
    if message_type == WhatsAppMessage.MessageType.TEMPLATE and not template_name:
        raise _invalid("template_name", "is required for a template message")
    if message_type == WhatsAppMessage.MessageType.TEXT and not (body_text or media_url):
        raise _invalid("body_text", "is required for a text message (or a media_url)")
    if idempotency_key and (existing := _existing(tenant, idempotency_key)) is not None:
        return existing
    config = provider_config(tenant=tenant, model=WhatsAppConfig, label=whatsapp_adapter.display_name,
                             config_id=config_id)
    number = phone_normalise(to, default_country_code=_default_country_code(config))
    is_template = message_type == WhatsAppMessage.MessageType.TEMPLATE
    try:
        with transaction.atomic():
            message = WhatsAppMessage.objects.create(
                tenant=tenant, config=config, provider=config.provider, to=number.e164, message_type=message_type,
                template_name=template_name if is_template else "",
                template_language=(template_language or config.default_language_code) if is_template else "",
                template_parameters=list(template_parameters or []) if is_template else [],
                body_text=body_text, media_url=media_url, idempotency_key=idempotency_key,
                notification=notification,
                metadata={attempts.ROUTE: [str(config.pk)], "country": number.region,
                          **({"preview_url": True} if preview_url and not is_template else {})})
            transaction.on_commit(lambda: _enqueue(str(message.pk)))
    except IntegrityError:
        existing = _existing(tenant, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing
    return message


def _existing(tenant, idempotency_key: str) -> WhatsAppMessage | None:
    return WhatsAppMessage.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()


def whatsapp_deliver(*, message_id, final_attempt: bool) -> WhatsAppMessage | None:
    return attempts.message_deliver(channel=WHATSAPP_CHANNEL, message_id=message_id, final_attempt=final_attempt)


def whatsapp_requeue_stale() -> dict[str, int]:
    return inflight.messages_requeue_stale(channel=WHATSAPP_CHANNEL)


# --- reads -----------------------------------------------------------------------------------

def whatsapp_list(*, tenant, filters: dict | None = None) -> QuerySet:
    return message_filters_apply(WhatsAppMessage.objects.filter(tenant=tenant), filters or {},
                                 exact=("to", "direction", "message_type"))


def whatsapp_get(*, tenant, message_id) -> WhatsAppMessage:
    message = WhatsAppMessage.objects.filter(tenant=tenant, pk=message_id).first()
    if message is None:
        raise NotFound("WhatsApp message not found")
    return message
