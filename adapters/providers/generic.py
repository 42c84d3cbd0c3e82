"""Generic partner webhooks: Standard Webhooks, and legacy `X-Hub-Signature` (HMAC-SHA1).

Standard Webhooks (https://www.standardwebhooks.com/, the format the hub itself sends):
headers `webhook-id`, `webhook-timestamp`, `webhook-signature` ("v1,<base64>" entries,
space-separated, several while a secret rotates; "v1a,<base64>" for ed25519). The shared
secret is `whsec_<base64>` in `signing_key`; an ed25519 `whpk_…` key goes in `public_key`.
Body `{type, timestamp, data}`; `webhook-id` is the dedup key.

Legacy option (`HubSha1`, registered as "generic_hub_sha1"): `X-Hub-Signature: sha1=<hex>`
HMAC-SHA1 of the raw body, GitHub's original scheme. It has no timestamp, so a captured
request can be replayed forever; dedup is the only guard. Offer it only to partners that
cannot do better, as an explicit per-endpoint choice, never as a fallback.

Both parse partner events with the shared partner vocabulary below (also used by Ziggy).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.inbound import (
    EventType,
    InboundEvent,
    InboundRequest,
    MalformedPayload,
    VerificationSecrets,
    from_iso8601,
    from_unix,
    json_body,
    nested,
    received_now,
    stable_event_id,
)
from adapters.signing import require_secret, standard_webhooks_verify, verify_prefixed_hmac

key = "generic"
display_name = "Standard Webhooks"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
HUB_SIGNATURE_HEADER = "X-Hub-Signature"
_SCALARS = (str, int, float, bool)

# The partner vocabulary: dotted names, as Ziggy sends them and as Standard Webhooks
# recommends ("hierarchical, full-stop delimited").
PARTNER_EVENT_TYPES: dict[str, EventType] = {
    "access.checkin": EventType.ACCESS_CHECKIN,
    "access.checkout": EventType.ACCESS_CHECKOUT,
    "consumption.recorded": EventType.CONSUMPTION_RECORDED,
}
EVENT_TYPES = PARTNER_EVENT_TYPES


def verify(
    request: InboundRequest,
    secrets: VerificationSecrets,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> None:
    standard_webhooks_verify(
        msg_id=request.headers.get(ID_HEADER),
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature_header=request.headers.get(SIGNATURE_HEADER),
        body=request.body,
        secret=secrets.signing_key,
        public_key=secrets.public_key,
        now=now,
        tolerance_seconds=tolerance_seconds,
    )


def verify_hub_sha1(
    request: InboundRequest,
    secrets: VerificationSecrets,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> None:
    """`now`/`tolerance_seconds` are accepted for a uniform interface; the scheme has no time."""
    secret = require_secret(secrets.signing_key, "partner signing secret")
    verify_prefixed_hmac(
        body=request.body,
        header_value=request.headers.get(HUB_SIGNATURE_HEADER),
        header=HUB_SIGNATURE_HEADER,
        secret=secret,
        algorithm="sha1",
    )


def handshake(request: InboundRequest, secrets: VerificationSecrets) -> None:
    """Neither scheme has a subscription handshake."""
    return None


def parse(request: InboundRequest) -> list[InboundEvent]:
    payload = json_body(request)
    items = payload if isinstance(payload, list) else [payload]
    header_id = request.headers.get(ID_HEADER)
    header_time = request.headers.get(TIMESTAMP_HEADER)
    fallback_time = from_unix(header_time, name=TIMESTAMP_HEADER) if header_time else None
    events = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedPayload(f"event {position} is not an object")
        # webhook-id names one message; a batch's members need ids of their own.
        message_id = header_id if header_id and len(items) == 1 else None
        events.append(
            partner_event(item, provider=key, external_id=message_id, fallback_time=fallback_time)
        )
    return events


def partner_event(
    item: dict,
    *,
    provider: str,
    external_id: str | None = None,
    fallback_time: datetime | None = None,
) -> InboundEvent:
    """One partner event `{type | event_type, id?, timestamp?, data{}}`. Without an id from
    the transport or the body, the id is a digest of the whole event."""
    vendor_type = item.get("type") or item.get("event_type")
    if not isinstance(vendor_type, str) or not vendor_type:
        raise MalformedPayload("a partner event needs 'type' or 'event_type'")
    body_id = item.get("id") if isinstance(item.get("id"), str) and item.get("id") else None
    data = nested(item, "data")
    subject = data.get("session_id") or data.get("id")
    return InboundEvent(
        type=PARTNER_EVENT_TYPES.get(vendor_type, EventType.UNKNOWN),
        external_id=external_id or body_id or stable_event_id(provider, item),
        occurred_at=_partner_time(item.get("timestamp"), fallback_time),
        subject_id=str(subject) if subject is not None else None,
        raw=item,
        vendor_type=vendor_type,
        details={
            name: value
            for name, value in data.items()
            if isinstance(value, _SCALARS) and name not in ("session_id", "id")
        },
    )


def _partner_time(value: Any, fallback: datetime | None) -> datetime:
    if value is None or value == "":
        return fallback or received_now()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return from_unix(value)
    if isinstance(value, str) and value.isdigit():
        return from_unix(value)
    return from_iso8601(value)


class HubSha1:
    """The legacy X-Hub-Signature scheme as a registry entry of its own."""

    key = "generic_hub_sha1"
    display_name = "Generic (X-Hub-Signature, HMAC-SHA1)"
    EVENT_TYPES = PARTNER_EVENT_TYPES
    verify = staticmethod(verify_hub_sha1)
    parse = staticmethod(parse)
    handshake = staticmethod(handshake)
