"""46elks SMS callbacks: delivery reports (`whendelivered`) and inbound SMS (`sms_url`).

Docs: https://46elks.se/docs/sms-delivery-reports , https://46elks.pl/docs/sms-delivery-reports
(lists the extra `sent` status), https://46elks.se/docs/receive-sms
- 46elks signs nothing. Its documented ways to authenticate a callback are a secret in the
  URL (an extra query parameter) or Basic auth written into the URL. We accept the
  configured `url_token` as the `token` query parameter, as the last path segment, or as the
  Basic-auth password, compared in constant time; an optional source-address allowlist
  (`allowed_networks`, addresses or CIDR ranges) can be required on top.
- No timestamp, so no replay window: dedup on (`id`, `status`) is the only guard.
- Bodies are form-encoded. A delivery report has `id`, `status` (sent | delivered | failed)
  and `delivered` (UTC, no offset, only when delivered); an inbound SMS has
  `direction=incoming`, `id`, `from`, `to`, `message`, `created` (UTC, no offset).
- The response body to an inbound SMS is sent back to the sender as an automatic reply,
  so the view must answer with an empty body.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from adapters.inbound import (
    EventType,
    InboundEvent,
    InboundRequest,
    MalformedPayload,
    SignatureInvalid,
    VerificationNotConfigured,
    VerificationSecrets,
    drop_empty,
    form_body,
    from_iso8601,
    received_now,
    require,
)
from adapters.signing import matches_any, require_secret

key = "elks46"
display_name = "46elks"
TOKEN_QUERY_PARAMETER = "token"
_INBOUND_STATUS = "received"  # our vendor_type for an inbound SMS, which has no status field

EVENT_TYPES: dict[str, EventType] = {
    "sent": EventType.SENT,
    "delivered": EventType.DELIVERED,
    "failed": EventType.FAILED,
    _INBOUND_STATUS: EventType.INBOUND_MESSAGE,
}


def _presented_tokens(request: InboundRequest) -> list[str]:
    tokens = []
    if request.query.get(TOKEN_QUERY_PARAMETER):
        tokens.append(request.query[TOKEN_QUERY_PARAMETER])
    segments = [segment for segment in urlsplit(request.url).path.split("/") if segment]
    if segments:
        tokens.append(unquote(segments[-1]))
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            password = (
                base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")[2]
            )
        except (binascii.Error, ValueError):
            password = ""
        if password:
            tokens.append(password)
    return tokens


def _address_allowed(remote_addr: str | None, allowed_networks: Iterable[str]) -> bool:
    if not remote_addr:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    try:
        networks = [ipaddress.ip_network(network, strict=False) for network in allowed_networks]
    except ValueError:
        raise VerificationNotConfigured(
            "the 46elks address allowlist has an invalid entry"
        ) from None
    return any(address in network for network in networks)


def verify(
    request: InboundRequest,
    secrets: VerificationSecrets,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
    allowed_networks: Iterable[str] | None = None,
) -> None:
    """`now`/`tolerance_seconds` are accepted for a uniform interface; 46elks sends no time."""
    expected = require_secret(secrets.url_token, "46elks callback URL token")
    if allowed_networks is not None and not _address_allowed(
        request.remote_addr, list(allowed_networks)
    ):
        raise SignatureInvalid("the callback came from an address outside the allowlist")
    presented = _presented_tokens(request)
    if not presented or not matches_any(expected, presented):
        raise SignatureInvalid("the callback URL does not carry the endpoint's token")


def handshake(request: InboundRequest, secrets: VerificationSecrets) -> None:
    """46elks has no subscription handshake."""
    return None


def parse(request: InboundRequest) -> list[InboundEvent]:
    params = form_body(request)
    message_id = require(params, "id", where="callback")
    if params.get("direction") == "incoming":
        return [
            InboundEvent(
                type=EventType.INBOUND_MESSAGE,
                external_id=f"{message_id}:{_INBOUND_STATUS}",
                occurred_at=_time(params, "created"),
                subject_id=message_id,
                raw=params,
                vendor_type=_INBOUND_STATUS,
                details=drop_empty(
                    {
                        "from": params.get("from"),
                        "to": params.get("to"),
                        "text": params.get("message"),
                        "image": params.get("image"),
                    }
                ),
            )
        ]
    status = params.get("status")
    if not status:
        raise MalformedPayload("a 46elks delivery report needs 'status'")
    return [
        InboundEvent(
            type=EVENT_TYPES.get(status, EventType.UNKNOWN),
            external_id=f"{message_id}:{status}",
            occurred_at=_time(params, "delivered"),
            subject_id=message_id,
            raw=params,
            vendor_type=status,
            details={},
        )
    ]


def _time(params: dict[str, str], name: str):
    # Only `delivered` reports and inbound SMS carry a time; sent/failed reports use receipt.
    return from_iso8601(params[name], name=name) if params.get(name) else received_now()
