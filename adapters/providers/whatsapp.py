"""WhatsApp Cloud API (Meta) webhooks: subscription handshake, verification, parsing.

Docs: https://developers.facebook.com/docs/graph-api/webhooks/getting-started ;
payload schema: tests/sandboxes/specs/whatsapp-cloud.json `WebhookPayload`, `Entry`,
`Change`, `StatusMessageValue`, `Statuses`, `StatusError`, `IncomingMessageValueGeneral`.
- Handshake: `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`; echo the
  challenge with 200 when the token matches the configured `verify_token`, else 403.
- `X-Hub-Signature-256: sha256=<hex>` is HMAC-SHA256 of the raw body keyed with the App
  Secret (`signing_key`), not the verify token and not the access token. No timestamp.
- One POST nests `entry[].changes[].value` holding `statuses[]` (receipts) and/or
  `messages[]` (inbound); each becomes its own event. Receipts dedup on
  (`statuses[].id`, `status`) since one message goes sent → delivered → read (or failed);
  inbound messages on `messages[].id`. Other change fields (group updates) become UNKNOWN
  events identified by a digest.
"""

from __future__ import annotations

import re

from adapters.inbound import (
    EventType,
    InboundEvent,
    InboundRequest,
    MalformedPayload,
    VerificationSecrets,
    drop_empty,
    from_unix,
    json_object_body,
    nested,
    nested_list,
    received_now,
    require,
    stable_event_id,
)
from adapters.signing import constant_time_equals, require_secret, verify_prefixed_hmac

key = "whatsapp"
display_name = "WhatsApp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
# Meta sends a decimal number; anything else is refused rather than reflected back.
_CHALLENGE = re.compile(r"[A-Za-z0-9_.\-]{1,256}")
_INBOUND = "message"  # our vendor_type for an inbound message; receipts use their status

# `Statuses.status` in the spec: sent | delivered | read | failed.
STATUS_TYPES: dict[str, EventType] = {
    "sent": EventType.SENT,
    "delivered": EventType.DELIVERED,
    "read": EventType.READ,
    "failed": EventType.FAILED,
}
EVENT_TYPES: dict[str, EventType] = {**STATUS_TYPES, _INBOUND: EventType.INBOUND_MESSAGE}


def handshake(
    request: InboundRequest, secrets: VerificationSecrets
) -> tuple[int, dict, bytes] | None:
    if request.method.upper() != "GET" or "hub.mode" not in request.query:
        return None
    plain = {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}
    expected = secrets.verify_token
    given = request.query.get("hub.verify_token", "")
    if (
        request.query.get("hub.mode") != "subscribe"
        or not expected
        or not given
        or not constant_time_equals(expected, given)
    ):
        return 403, plain, b""
    challenge = request.query.get("hub.challenge", "")
    if not _CHALLENGE.fullmatch(challenge):
        return 400, plain, b""
    return 200, plain, challenge.encode()


def verify(
    request: InboundRequest,
    secrets: VerificationSecrets,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> None:
    """`now`/`tolerance_seconds` are accepted for a uniform interface; Meta signs no time."""
    app_secret = require_secret(secrets.signing_key, "Meta App Secret")
    verify_prefixed_hmac(
        body=request.body,
        header_value=request.headers.get(SIGNATURE_HEADER),
        header=SIGNATURE_HEADER,
        secret=app_secret,
        algorithm="sha256",
    )


def parse(request: InboundRequest) -> list[InboundEvent]:
    payload = json_object_body(request)
    entries = require(payload, "entry", list)
    events: list[InboundEvent] = []
    for entry_index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
            raise MalformedPayload(f"entry {entry_index} needs a 'changes' list")
        for change in entry["changes"]:
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                raise MalformedPayload(f"entry {entry_index} has a change without a 'value'")
            events.extend(_change_events(entry.get("id"), change))
    return events


def _change_events(account_id: object, change: dict) -> list[InboundEvent]:
    value = change["value"]
    metadata = nested(value, "metadata")
    context = {
        "business_account_id": account_id,
        "phone_number_id": metadata.get("phone_number_id"),
        "display_phone_number": metadata.get("display_phone_number"),
    }
    statuses = value.get("statuses") or []
    messages = value.get("messages") or []
    if not isinstance(statuses, list) or not isinstance(messages, list):
        raise MalformedPayload("'statuses' and 'messages' must be lists")
    if change.get("field") != "messages" or not (statuses or messages):
        vendor_type = str(change.get("field") or "unknown")
        return [
            InboundEvent(
                type=EventType.UNKNOWN,
                external_id=stable_event_id("whatsapp", account_id, change),
                occurred_at=received_now(),
                subject_id=None,
                raw=change,
                vendor_type=vendor_type,
                details=drop_empty(context),
            )
        ]
    profiles = {
        contact["wa_id"]: nested(contact, "profile").get("name")
        for contact in nested_list(value, "contacts")
        if isinstance(contact, dict) and isinstance(contact.get("wa_id"), str)
    }
    return [_status_event(status, context) for status in statuses] + [
        _message_event(message, context, profiles) for message in messages
    ]


def _status_event(status: object, context: dict) -> InboundEvent:
    if not isinstance(status, dict):
        raise MalformedPayload("a status entry is not an object")
    message_id = require(status, "id", where="status")
    vendor_type = require(status, "status", where="status")
    errors = status.get("errors") if isinstance(status.get("errors"), list) else []
    first_error = errors[0] if errors and isinstance(errors[0], dict) else {}
    conversation = nested(status, "conversation")
    pricing = nested(status, "pricing")
    details = {
        **context,
        "recipient": status.get("recipient_id"),
        "error_code": first_error.get("code"),
        "error_title": first_error.get("title"),
        "error_message": first_error.get("message"),
        "error_details": nested(first_error, "error_data").get("details"),
        "conversation_id": conversation.get("id"),
        "pricing_category": pricing.get("category"),
    }
    return InboundEvent(
        type=STATUS_TYPES.get(vendor_type, EventType.UNKNOWN),
        external_id=f"{message_id}:{vendor_type}",
        occurred_at=from_unix(require(status, "timestamp", where="status")),
        subject_id=message_id,
        raw=status,
        vendor_type=vendor_type,
        details=drop_empty(details),
    )


def _message_event(message: object, context: dict, profiles: dict) -> InboundEvent:
    if not isinstance(message, dict):
        raise MalformedPayload("a message entry is not an object")
    message_id = require(message, "id", where="message")
    sender = message.get("from")
    message_type = message.get("type")
    content = message.get(message_type) if isinstance(message_type, str) else None
    content = content if isinstance(content, dict) else {}
    reply_to = nested(message, "context")
    details = {
        **context,
        "from": sender,
        "profile_name": profiles.get(sender) if isinstance(sender, str) else None,
        "message_type": message_type,
        "text": content.get("body") or content.get("text") or content.get("caption"),
        "button_payload": content.get("payload"),
        "media_id": content.get("id"),
        "reply_to": reply_to.get("id"),
    }
    return InboundEvent(
        type=EventType.INBOUND_MESSAGE,
        external_id=message_id,
        occurred_at=from_unix(require(message, "timestamp", where="message")),
        subject_id=message_id,
        raw=message,
        vendor_type=_INBOUND,
        details=drop_empty(details),
    )
