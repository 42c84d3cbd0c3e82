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

Sending (https://46elks.se/docs/send-sms) goes through the shared ProviderHttpClient; 46elks
publishes no machine-readable description, so the sandbox checks requests against the docs:
- POST /a1/sms, form-encoded, Basic auth (API username : API password), fields `from`,
  `to`, `message`, optional `whendelivered` (delivery report URL) and `dryrun=yes`.
- The JSON answer has `id`, `status`, `parts` and `cost` in 1/10000 of the account's
  currency, which the answer does not name; GET /a1/me (the account) does. A dry run
  answers `estimated_cost` and no id, and sends nothing.
- 46elks has no idempotency key.
- Validation reads the account (GET /a1/me): cheap, authenticated, sends nothing.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import unquote, urlsplit

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
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
from adapters.types import OutboundSms, SendResult, ValidationResult

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


# --- sending -----------------------------------------------------------------------------

COST_UNITS_PER_CURRENCY_UNIT = Decimal(10000)


@dataclass(frozen=True)
class Config:
    username: str
    password: str
    sender_id: str
    dry_run: bool = False
    base_url: str = field(
        default_factory=lambda: provider_base_url("elks", "https://api.46elks.com")
    )
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Account:
    display_name: str
    currency: str


def _client(config: Config) -> ProviderHttpClient:
    return ProviderHttpClient(
        key,
        config.base_url,
        timeout=config.timeout_seconds,
        auth=(config.username, config.password),
    )


def _json_object(response, where: str) -> dict:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise ProviderUnavailable(
            f"46elks answered {where} with something other than a JSON object",
            provider=key,
            status_code=response.status_code,
        )
    return payload


def send_sms(config: Config, sms: OutboundSms, *, delivery_report_url: str = "") -> SendResult:
    form = {"from": config.sender_id, "to": sms.to, "message": sms.body}
    if delivery_report_url:
        form["whendelivered"] = delivery_report_url
    if config.dry_run:
        form["dryrun"] = "yes"
    with _client(config) as client:
        answer = _json_object(client.request("POST", "/a1/sms", data=form), "POST /a1/sms")
    if answer.get("status") == "failed":
        raise ProviderRejected(
            f"46elks refused the SMS: {answer.get('error') or 'status failed'}", provider=key
        )
    details = {"parts": answer.get("parts"), "status": answer.get("status")}
    if config.dry_run:
        return SendResult(
            provider_message_id="",
            details=details | {"dry_run": True, "estimated_cost": answer.get("estimated_cost")},
        )
    message_id = answer.get("id")
    if not isinstance(message_id, str) or not message_id:
        raise ProviderUnavailable(
            "46elks accepted the SMS but its answer carried no id", provider=key
        )
    cost = answer.get("cost")
    amount = (
        Decimal(cost) / COST_UNITS_PER_CURRENCY_UNIT
        if isinstance(cost, int) and not isinstance(cost, bool)
        else None
    )
    return SendResult(provider_message_id=message_id, cost_amount=amount, details=details)


def account(config: Config) -> Account:
    with _client(config) as client:
        answer = _json_object(client.request("GET", "/a1/me"), "GET /a1/me")
    return Account(
        display_name=str(answer.get("displayname") or ""),
        currency=str(answer.get("currency") or "").upper()[:3],
    )


def validate(config: Config) -> ValidationResult:
    found = account(config)
    named = f" as {found.display_name}" if found.display_name else ""
    return ValidationResult(
        message=f"authenticated with 46elks{named} (account currency {found.currency})",
        details={"currency": found.currency},
    )
