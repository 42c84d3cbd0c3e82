"""Notifications: one request fanned out to many recipients over several channels.

Each channel has one template; `{placeholder}`s are filled per recipient from the request's
`variables`, the recipient's own fields (name, email, phone, id, player_id) and the
recipient's `variables` (most specific wins). Every placeholder must resolve for every
recipient, or nothing is stored. Each message is created through its channel's own send
service (email and SMS are routed there: SendGrid then Mailgun; 46elks or Twilio by country),
with an idempotency key derived from the request's key, the recipient and the channel
(sha256), so running the same request again (a cron) creates nothing new. A recipient
without an address for a channel is skipped for that channel, and said so.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from string import Formatter

from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet

from communication.models import EmailMessage, Notification, PushNotification, SmsMessage, WhatsAppMessage
from communication.services.email import email_send
from communication.services.push import push_send
from communication.services.sms import sms_send
from communication.services.whatsapp import whatsapp_send
from integrations.errors import ApplicationError, NotFound

CHANNEL_MODELS = {"email": EmailMessage, "sms": SmsMessage, "push": PushNotification, "whatsapp": WhatsAppMessage}
RECIPIENT_FIELDS = ("id", "name", "email", "phone", "player_id")
RECIPIENT_KEY = "notification_recipient"  # message metadata: {"index", "id", "name"}
_formatter = Formatter()


@dataclass
class FanOut:
    notification: Notification
    messages: dict[int, dict[str, object]] = field(default_factory=dict)  # recipient index -> channel -> message
    skipped: list[dict] = field(default_factory=list)
    replayed: bool = False


def placeholders(text: str, where: str) -> set[str]:
    """The `{name}`s a template string uses; only plain names ({{ and }} are literal braces)."""
    try:
        parsed = list(_formatter.parse(text))
    except ValueError as exc:
        raise _invalid(where, f"is not a valid template: {exc}") from None
    names = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise _invalid(where, f"'{{{name}}}' is not a placeholder; use {{name}} with a plain name")
        names.add(name)
    return names


def render(text: str, values: dict) -> str:
    return "".join(literal + (str(values[name]) if name is not None else "")
                   for literal, name, _, _ in _formatter.parse(text))


def _strings(template, path: str):
    """Every template string with where it is, including inside nested data and parameters."""
    if isinstance(template, str):
        yield path, template
    elif isinstance(template, dict):
        for name, value in template.items():
            yield from _strings(value, f"{path}.{name}")
    elif isinstance(template, list):
        for index, value in enumerate(template):
            yield from _strings(value, f"{path}.{index}")


def _render_tree(template, values: dict):
    if isinstance(template, str):
        return render(template, values)
    if isinstance(template, dict):
        return {name: _render_tree(value, values) for name, value in template.items()}
    if isinstance(template, list):
        return [_render_tree(value, values) for value in template]
    return template


def _invalid(where: str, rule: str, status: int = 400) -> ApplicationError:
    return ApplicationError(f"{where} {rule}", status=status, extra={"errors": {where: [rule]}})


def _values(recipient: dict, variables: dict) -> dict:
    own = {name: recipient[name] for name in RECIPIENT_FIELDS if recipient.get(name)}
    return {**variables, **own, **recipient.get("variables", {})}


def _check_placeholders(templates: dict, recipients: list[dict], variables: dict) -> None:
    used = {path: placeholders(text, path) for channel, template in templates.items()
            for path, text in _strings(template, f"templates.{channel}")}
    for index, recipient in enumerate(recipients):
        known = set(_values(recipient, variables))
        for path, names in used.items():
            if missing := sorted(names - known):
                raise _invalid(f"recipients.{index}", f"has no value for {', '.join(missing)} (used in {path})")


def message_key(request_key: str, recipient_key: str, channel: str) -> str:
    digest = hashlib.sha256("\x1f".join((request_key, recipient_key, channel)).encode()).hexdigest()
    return f"notification:{digest}"


def _address(channel: str, recipient: dict) -> str:
    if channel == "email":
        return (recipient.get("email") or "").lower()
    if channel == "sms":
        return recipient.get("phone") or ""
    if channel == "whatsapp":
        return recipient.get("whatsapp") or ""
    if recipient.get("push_token"):
        return recipient["push_token"]
    return f"player:{recipient['player_id']}" if recipient.get("player_id") else ""


def _send_one(*, tenant, channel: str, template: dict, recipient: dict, values: dict, key: str,
              notification: Notification):
    common = {"tenant": tenant, "idempotency_key": key, "notification": notification}
    if channel == "email":
        to = [{"email": recipient["email"], "name": recipient.get("name", "")}]
        if template.get("template_id"):
            return email_send(to=to, subject=render(template.get("subject", ""), values),
                              template_id=template["template_id"],
                              template_data={**values, **_render_tree(template.get("template_data", {}), values)},
                              **common)
        return email_send(to=to, subject=render(template["subject"], values),
                          body_text=render(template.get("body_text", ""), values),
                          body_html=render(template.get("body_html", ""), values), **common)
    if channel == "sms":
        return sms_send(to=recipient["phone"], body=render(template["body"], values), **common)
    if channel == "push":
        rendered = _render_tree(template, values)
        target = ({"target_token": recipient["push_token"], "target_platform": recipient["push_platform"]}
                  if recipient.get("push_token") else {"player_id": recipient["player_id"]})
        return push_send(**target, **rendered, **common)
    rendered = _render_tree(template, values)
    message_type = "template" if template.get("template_name") else "text"
    return whatsapp_send(to=recipient["whatsapp"], message_type=message_type, **rendered, **common)


def notification_send(*, tenant, idempotency_key: str, channels: list[str], templates: dict,
                      recipients: list[dict], variables: dict | None = None, actor: str = "") -> FanOut:
    """Create the notification and every message of it in one transaction; deliveries are
    enqueued when it commits. The same key again returns the notification it first made."""
    variables = variables or {}
    _check_placeholders({channel: templates[channel] for channel in channels}, recipients, variables)
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                tenant=tenant, idempotency_key=idempotency_key, channels=channels, templates=templates,
                recipient_count=len(recipients), created_by=actor[:200])
            fan_out = FanOut(notification=notification)
            for index, recipient in enumerate(recipients):
                values = _values(recipient, variables)
                for channel in channels:
                    address = _address(channel, recipient)
                    if not address:
                        fan_out.skipped.append({"recipient": index, "channel": channel,
                                                "reason": f"the recipient has no {channel} address"})
                        continue
                    key = message_key(idempotency_key, recipient.get("id") or address, channel)
                    try:
                        message = _send_one(tenant=tenant, channel=channel, template=templates[channel],
                                            recipient=recipient, values=values, key=key, notification=notification)
                    except ApplicationError as exc:
                        raise _for_recipient(exc, index, channel) from None
                    fan_out.messages.setdefault(index, {})[channel] = message
            _label_messages(fan_out, recipients)
            notification.message_count = sum(len(by_channel) for by_channel in fan_out.messages.values())
            notification.save(update_fields=["message_count", "updated_at"])
    except IntegrityError:
        existing = Notification.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return notification_fan_out(notification=existing)
    return fan_out


def _for_recipient(exc: ApplicationError, index: int, channel: str) -> ApplicationError:
    """A channel's refusal, named by the recipient and channel it came from."""
    error = ApplicationError(f"recipient {index}, {channel}: {exc.detail}", status=exc.status, code=exc.code,
                             extra={**exc.extra, "errors": {f"recipients.{index}.{channel}": [exc.detail]}})
    error.title = exc.title
    return error


def _label_messages(fan_out: FanOut, recipients: list[dict]) -> None:
    """Mark each new message with its recipient, so the notification can be read back by them."""
    by_model = defaultdict(list)
    for index, by_channel in fan_out.messages.items():
        label = {"index": index, "id": recipients[index].get("id", ""), "name": recipients[index].get("name", "")}
        for message in by_channel.values():
            if message.notification_id == fan_out.notification.pk:
                message.metadata = {**message.metadata, RECIPIENT_KEY: label}
                by_model[type(message)].append(message)
    for model, messages in by_model.items():
        model.objects.bulk_update(messages, ["metadata"], batch_size=500)


# --- reads -----------------------------------------------------------------------------------

def notification_list(*, tenant, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = Notification.objects.filter(tenant=tenant)
    if filters.get("created_after"):
        qs = qs.filter(created_at__gte=filters["created_after"])
    if filters.get("created_before"):
        qs = qs.filter(created_at__lt=filters["created_before"])
    return qs


def notification_get(*, tenant, notification_id) -> Notification:
    notification = Notification.objects.filter(tenant=tenant, pk=notification_id).first()
    if notification is None:
        raise NotFound("notification not found")
    return notification


def notification_fan_out(*, notification: Notification) -> FanOut:
    """The notification's messages by recipient and channel, as stored."""
    fan_out = FanOut(notification=notification, replayed=True)
    for channel in notification.channels:
        model = CHANNEL_MODELS[channel]
        for message in model.objects.filter(tenant_id=notification.tenant_id, notification=notification):
            index = message.metadata.get(RECIPIENT_KEY, {}).get("index", -1)
            fan_out.messages.setdefault(index, {})[channel] = message
    return fan_out


def notification_status_totals(*, tenant, notification_ids: list) -> dict:
    """notification id -> channel -> status -> messages, for a page of notifications."""
    totals: dict = defaultdict(lambda: defaultdict(dict))
    for channel, model in CHANNEL_MODELS.items():
        rows = (model.objects.filter(tenant=tenant, notification_id__in=notification_ids)
                .values_list("notification_id", "status").annotate(n=Count("pk")).order_by())
        for notification_id, status, count in rows:
            totals[str(notification_id)][channel][status] = count
    return totals


def status_counts(fan_out: FanOut) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter] = defaultdict(Counter)
    for by_channel in fan_out.messages.values():
        for channel, message in by_channel.items():
            counts[channel][message.status] += 1
    return {channel: dict(counter) for channel, counter in counts.items()}
