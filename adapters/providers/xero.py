"""Xero webhooks: Intent to Receive, verification and event parsing.

Docs: https://developer.xero.com/documentation/guides/webhooks/overview ; payload schema:
tests/sandboxes/specs/xero-webhooks.json (`WebhookEvent`, `CreditNoteWebhookEvent`).
- `x-xero-signature` is the base64 (not hex) HMAC-SHA256 of the raw body keyed with the
  app's webhook key.
- Intent to Receive: when a webhook is saved, Xero posts bodies with an empty `events`
  list, some deliberately mis-signed, and expects 200 with an empty body for the good ones
  and 401 for the bad ones within 5 seconds. `handshake` answers those; every later
  delivery must follow the same rule, so the view must map SignatureInvalid to 401 here.
- Events are notifications only (fetch `resourceUrl` for the data). There is no event id:
  `external_id` digests (tenantId, eventCategory, resourceId, eventType, eventDateUtc).
  `eventDateUtc` has no offset and is UTC.
"""
from __future__ import annotations

import json

from adapters.inbound import (
    EventType,
    InboundEvent,
    InboundRequest,
    MalformedPayload,
    SignatureInvalid,
    VerificationSecrets,
    drop_empty,
    from_iso8601,
    json_object_body,
    nested,
    require,
    stable_event_id,
)
from adapters.signing import constant_time_equals, hmac_sha256_base64, require_secret

key = "xero"
display_name = "Xero"
SIGNATURE_HEADER = "x-xero-signature"

# vendor_type is "<eventCategory>.<eventType>"; categories and types as in the spec's enums.
EVENT_TYPES: dict[str, EventType] = {
    f"{category}.{operation}": EventType.RECORD_CHANGED
    for category in ("CONTACT", "INVOICE", "CREDITNOTE", "SUBSCRIPTION")
    for operation in ("CREATE", "UPDATE")
}


def verify(request: InboundRequest, secrets: VerificationSecrets, *, now: float | None = None,
           tolerance_seconds: int = 300) -> None:
    """`now`/`tolerance_seconds` are accepted for a uniform interface; Xero signs no time."""
    given = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not given:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} header is missing")
    webhook_key = require_secret(secrets.signing_key, "Xero webhook key")
    if not constant_time_equals(hmac_sha256_base64(webhook_key, request.body), given):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the body")


def handshake(request: InboundRequest,
              secrets: VerificationSecrets) -> tuple[int, dict, bytes] | None:
    """Answer an Intent to Receive delivery (an empty `events` list): 200 when correctly
    signed, 401 otherwise, both with an empty body. None for anything else."""
    if request.method.upper() != "POST":
        return None
    try:
        payload = json.loads(request.body)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("events") != []:
        return None
    try:
        verify(request, secrets)
    except SignatureInvalid:
        return 401, {}, b""
    return 200, {}, b""


def parse(request: InboundRequest) -> list[InboundEvent]:
    payload = json_object_body(request)
    events = require(payload, "events", list)
    return [_event(item, position) for position, item in enumerate(events)]


def _event(item: object, position: int) -> InboundEvent:
    where = f"event {position}"
    if not isinstance(item, dict):
        raise MalformedPayload(f"{where} is not an object")
    category = require(item, "eventCategory", where=where)
    operation = require(item, "eventType", where=where)
    resource_id = require(item, "resourceId", where=where)
    tenant_id = require(item, "tenantId", where=where)
    event_date = require(item, "eventDateUtc", where=where)
    vendor_type = f"{category}.{operation}"
    data = nested(item, "data")
    details = {
        "category": category.lower(),
        "operation": operation.lower(),
        "resource_url": item.get("resourceUrl"),
        "tenant_id": tenant_id,
        "tenant_type": item.get("tenantType"),
        "credit_note_type": data.get("Type"),
        "credit_note_status": data.get("Status"),
    }
    return InboundEvent(
        type=EVENT_TYPES.get(vendor_type, EventType.UNKNOWN),
        external_id=stable_event_id("xero", tenant_id, category, resource_id, operation, event_date),
        occurred_at=from_iso8601(event_date, name="eventDateUtc"),
        subject_id=resource_id,
        raw=item,
        vendor_type=vendor_type,
        details=drop_empty(details),
    )
