"""Delivery tracking: what providers report about sent messages, applied to the messages.

Each report is matched to the message by the provider's message id (`subject_id` of the
parsed webhook) within the tenant and provider. Status only moves forward, by a rank per
message kind: a late or repeated `delivered` never overwrites `opened` or `read`, and of two
final outcomes (delivered / failed) the first wins. Engagement is counted whatever the status
(opens, clicks, bounces with their kind, unsubscribes), first/last-open times tolerate
reports that arrive out of order. Inbound SMS and WhatsApp messages become inbound rows.

When a status moves, the tenant's outbox gets message.delivered / message.bounced /
message.failed / message.read in the same transaction.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db.models import Count, Q, Sum
from django.utils import timezone

from adapters.inbound import EventType
from communication.models import EmailMessage, SmsMessage, WhatsAppMessage
from integrations.events import event_emit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackedKind:
    name: str
    model: type
    rank: dict[str, int]
    statuses: dict[EventType, str]  # what a report says the message's status is now


# Deferred is a temporary refusal, so delivery may follow. Bounced, dropped and failed end a
# message that was never delivered; an open after them (another recipient of the same email,
# or a provider report out of order) still says someone read it. A spam report comes last.
EMAIL = TrackedKind("email", EmailMessage, rank={
    "queued": 0, "sending": 1, "sent": 2, "deferred": 3, "delivered": 4, "bounced": 5, "dropped": 5,
    "failed": 5, "opened": 6, "clicked": 7, "spam_reported": 8,
}, statuses={
    EventType.PROCESSED: "sent", EventType.DEFERRED: "deferred", EventType.DELIVERED: "delivered",
    EventType.BOUNCED: "bounced", EventType.DROPPED: "dropped", EventType.OPENED: "opened",
    EventType.CLICKED: "clicked", EventType.SPAM_REPORT: "spam_reported",
})
SMS = TrackedKind("sms", SmsMessage, rank={"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3},
                  statuses={EventType.SENT: "sent", EventType.DELIVERED: "delivered", EventType.FAILED: "failed"})
WHATSAPP = TrackedKind("whatsapp", WhatsAppMessage, rank={
    "queued": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3, "read": 4,
}, statuses={EventType.SENT: "sent", EventType.DELIVERED: "delivered", EventType.READ: "read",
             EventType.FAILED: "failed"})
_OUTBOX_EVENTS = {"delivered": "message.delivered", "bounced": "message.bounced", "dropped": "message.failed",
                  "failed": "message.failed", "read": "message.read"}


# SendGrid echoes a personalization's custom_args as top-level keys of each event; the hub puts
# its message id there, which names the message even when one request (one X-Message-Id)
# carried several messages.
HUB_MESSAGE_ID = "hub_message_id"


def _hub_message_id(event) -> uuid.UUID | None:
    value = (event.payload or {}).get(HUB_MESSAGE_ID) if isinstance(event.payload, dict) else None
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _locked_message(kind: TrackedKind, event):
    if kind.model is EmailMessage and (hub_id := _hub_message_id(event)) is not None:
        message = kind.model.objects.select_for_update().filter(
            tenant_id=event.tenant_id, provider=event.provider, pk=hub_id).first()
        if message is not None:
            return message
    if not event.subject_id:
        return None
    qs = kind.model.objects.select_for_update().filter(tenant_id=event.tenant_id, provider=event.provider,
                                                       provider_message_id=event.subject_id)
    if kind.model is not EmailMessage:
        qs = qs.filter(direction="outbound")
    return qs.first()


def _advance(kind: TrackedKind, message, status: str | None, event, changed: set[str]) -> bool:
    """Move the status forward if `status` ranks above the current one; emit on a move."""
    if status is None or kind.rank.get(status, -1) <= kind.rank.get(message.status, -1):
        return False
    message.status = status
    changed.add("status")
    outbox = _OUTBOX_EVENTS.get(status)
    if outbox:
        event_emit(tenant_id=message.tenant_id, event_type=outbox, data={
            "message_id": str(message.pk), "kind": kind.name, "provider": message.provider, "status": status,
            "provider_message_id": message.provider_message_id, "occurred_at": event.occurred_at.isoformat(),
            "notification_id": str(message.notification_id) if message.notification_id else None,
            **({"error_code": message.error_code} if status in ("failed", "dropped", "bounced") and message.error_code
               else {})})
    return True


def _set_once(message, field: str, value, changed: set[str]) -> None:
    if getattr(message, field) is None and value is not None:
        setattr(message, field, value)
        changed.add(field)


def _save(message, changed: set[str]) -> None:
    if changed:
        message.save(update_fields=sorted(changed | {"updated_at"}))


# --- email -----------------------------------------------------------------------------------

def _bounce_type(event) -> str:
    """hard / soft / block from the vendor's own fields."""
    raw, details = event.payload or {}, event.details or {}
    if event.provider == "sendgrid":
        # https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event#delivery-events
        return "block" if raw.get("type") == "blocked" else "hard"
    if event.provider == "mailgun":
        # https://documentation.mailgun.com/docs/mailgun/user-manual/events/#event-structure
        if raw.get("reason") == "espblock":
            return "block"
        return "soft" if raw.get("severity") == "temporary" else "hard"
    return str(details.get("bounce_type") or "hard")


def _failure_text(event) -> str:
    details = event.details or {}
    parts = [details.get("reason"), details.get("response"), details.get("error_title"),
             details.get("error_message"), details.get("error_details")]
    return "; ".join(str(part) for part in parts if part)[:1000]


def email_event_apply(event) -> EmailMessage | None:
    """A SendGrid or Mailgun event about an email we sent."""
    message = _locked_message(EMAIL, event)
    if message is None:
        return None
    kind, changed, at = EventType(event.event_type), set(), event.occurred_at
    if kind is EventType.OPENED:
        message.open_count += 1
        message.first_opened_at = min(filter(None, (message.first_opened_at, at)))
        message.last_opened_at = max(filter(None, (message.last_opened_at, at)))
        changed |= {"open_count", "first_opened_at", "last_opened_at"}
    elif kind is EventType.CLICKED:
        message.click_count += 1
        changed.add("click_count")
    elif kind is EventType.BOUNCED:
        message.bounce_count += 1
        message.bounce_type = _bounce_type(event)
        changed |= {"bounce_count", "bounce_type"}
    elif kind is EventType.DEFERRED and not message.bounce_type:
        message.bounce_type = "soft"
        changed.add("bounce_type")
    elif kind is EventType.UNSUBSCRIBED and not message.unsubscribed:
        message.unsubscribed = True
        changed.add("unsubscribed")
    if kind is EventType.DELIVERED:
        _set_once(message, "delivered_at", at, changed)
    if kind in (EventType.BOUNCED, EventType.DROPPED):
        _set_once(message, "failed_at", at, changed)
        if text := _failure_text(event):
            message.last_error, message.error_code = text, kind.value
            changed |= {"last_error", "error_code"}
    _advance(EMAIL, message, EMAIL.statuses.get(kind), event, changed)
    _save(message, changed)
    return message


# --- SMS -------------------------------------------------------------------------------------

def _price(raw: dict) -> tuple[Decimal, str] | None:
    """A price in the report (Twilio's Price/PriceUnit, a negative debit), if there is one."""
    amount, currency = raw.get("Price") or raw.get("price"), raw.get("PriceUnit") or raw.get("price_unit")
    try:
        return (abs(Decimal(str(amount))), str(currency or "")[:3].upper()) if amount not in (None, "") else None
    except InvalidOperation:
        return None


def sms_event_apply(event) -> SmsMessage | None:
    """A 46elks delivery report or a Twilio status callback about an SMS we sent."""
    message = _locked_message(SMS, event)
    if message is None:
        return None
    kind, changed, details = EventType(event.event_type), set(), event.details or {}
    if kind is EventType.DELIVERED:
        _set_once(message, "delivered_at", event.occurred_at, changed)
    if kind is EventType.FAILED:
        _set_once(message, "failed_at", event.occurred_at, changed)
        message.error_code = str(details.get("error_code") or event.vendor_type)[:100]
        message.last_error = f"{event.provider} reported the SMS {event.vendor_type}"[:1000]
        changed |= {"error_code", "last_error"}
    if (price := _price(event.payload or {})) is not None and message.cost_amount is None:
        message.cost_amount, message.cost_currency = price
        changed |= {"cost_amount", "cost_currency"}
    _advance(SMS, message, SMS.statuses.get(kind), event, changed)
    _save(message, changed)
    return message


def sms_inbound_store(event) -> SmsMessage:
    """An SMS someone sent to one of the tenant's numbers, stored once per provider id."""
    details = event.details or {}
    message, _ = SmsMessage.objects.get_or_create(
        tenant_id=event.tenant_id, idempotency_key=f"inbound:{event.provider}:{event.subject_id}"[:255],
        defaults={"config_id": event.integration_id, "provider": event.provider, "status": "received",
                  "direction": SmsMessage.Direction.INBOUND, "provider_message_id": event.subject_id or "",
                  "from_number": str(details.get("from") or "")[:16], "to": str(details.get("to") or "")[:16],
                  "body": str(details.get("text") or "")[:1600], "delivered_at": event.occurred_at,
                  "metadata": {"received": {k: v for k, v in details.items() if k not in ("text",)}}})
    return message


# --- WhatsApp --------------------------------------------------------------------------------

def whatsapp_event_apply(event) -> WhatsAppMessage | None:
    """A WhatsApp status (sent, delivered, read, failed) about a message we sent."""
    message = _locked_message(WHATSAPP, event)
    if message is None:
        return None
    kind, changed, details = EventType(event.event_type), set(), event.details or {}
    if kind is EventType.DELIVERED:
        _set_once(message, "delivered_at", event.occurred_at, changed)
    elif kind is EventType.READ:
        _set_once(message, "read_at", event.occurred_at, changed)
    elif kind is EventType.FAILED:
        _set_once(message, "failed_at", event.occurred_at, changed)
        message.error_code = str(details.get("error_code") or "failed")[:100]
        message.last_error = _failure_text(event) or "WhatsApp reported the message failed"
        changed |= {"error_code", "last_error"}
    if details.get("pricing_category") and message.metadata.get("pricing_category") != details["pricing_category"]:
        message.metadata = {**message.metadata, "pricing_category": details["pricing_category"]}
        changed.add("metadata")
    _advance(WHATSAPP, message, WHATSAPP.statuses.get(kind), event, changed)
    _save(message, changed)
    return message


def _e164(digits) -> str:
    text = str(digits or "")
    return (text if text.startswith("+") else f"+{text}")[:16] if text else ""


def whatsapp_inbound_store(event) -> WhatsAppMessage:
    """A WhatsApp message a user sent to the tenant's number, stored once per wamid."""
    details = event.details or {}
    message, _ = WhatsAppMessage.objects.get_or_create(
        tenant_id=event.tenant_id, idempotency_key=f"inbound:whatsapp:{event.subject_id}"[:255],
        defaults={"config_id": event.integration_id, "provider": "whatsapp", "status": "received",
                  "direction": WhatsAppMessage.Direction.INBOUND, "provider_message_id": event.subject_id or "",
                  "from_number": _e164(details.get("from")), "to": _e164(details.get("display_phone_number")),
                  "message_type": WhatsAppMessage.MessageType.TEXT,
                  "body_text": str(details.get("text") or details.get("button_payload") or "")[:4096],
                  "delivered_at": event.occurred_at,
                  "metadata": {"received": {k: v for k, v in details.items() if k != "text"}}})
    return message


# --- reads -----------------------------------------------------------------------------------

_DELIVERED_EMAIL = ("delivered", "opened", "clicked", "spam_reported")


def email_engagement(*, tenant, config, days: int = 30) -> dict:
    """Opens, clicks and bounces of the emails a config sent in the last `days` days; the open
    rate is opened / delivered."""
    since = timezone.now() - timedelta(days=days)
    totals = EmailMessage.objects.filter(tenant=tenant, config_id=config.pk, created_at__gte=since).aggregate(
        sent=Count("pk", filter=~Q(status__in=("queued", "sending", "failed"))),
        delivered=Count("pk", filter=Q(delivered_at__isnull=False) | Q(status__in=_DELIVERED_EMAIL)),
        opened=Count("pk", filter=Q(open_count__gt=0)), opens=Sum("open_count"),
        clicked=Count("pk", filter=Q(click_count__gt=0)), clicks=Sum("click_count"),
        bounced=Count("pk", filter=Q(bounce_count__gt=0) | Q(status="bounced")),
        spam_reports=Count("pk", filter=Q(status="spam_reported")),
        unsubscribed=Count("pk", filter=Q(unsubscribed=True)))
    totals = {name: int(value or 0) for name, value in totals.items()}

    def rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return totals | {"open_rate": rate(totals["opened"], totals["delivered"]),
                     "click_rate": rate(totals["clicked"], totals["delivered"]),
                     "bounce_rate": rate(totals["bounced"], totals["sent"])}
