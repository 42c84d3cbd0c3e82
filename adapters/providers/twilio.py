"""Twilio Messaging webhooks: status callbacks and inbound SMS.

Docs: https://www.twilio.com/docs/usage/webhooks/webhooks-security ,
https://www.twilio.com/docs/messaging/guides/track-outbound-message-status
- `X-Twilio-Signature` is base64 HMAC-SHA1 keyed with the account Auth Token over the full
  URL Twilio called (scheme, host, path, query exactly as configured) followed by every POST
  parameter sorted by name as `name + value` (a repeated name adds each distinct value, in
  order, as twilio-python's RequestValidator does). So `request.url` must be the public URL,
  not the one a proxy forwarded to.
- Twilio is inconsistent about an explicit default port, so the URL is tried with and
  without `:443`/`:80`, as the SDK does.
- JSON-bodied webhooks carry `bodySHA256=<hex sha256 of the body>` in the URL instead; the
  body is then not part of the signed string but must match that hash.
- A `X-Twilio-Webhooks-Signature-Settings: key=…,algorithm=HMAC_SHA256` header (SharedKey
  signing, handled by twilio-python >= 9.13) switches the digest to SHA-256.
- No timestamp at all: replay protection is dedup only. Callbacks carry no event id or
  time; `external_id` is `"{MessageSid}:{MessageStatus}"` (one callback per transition) and
  `occurred_at` is the receipt time.

Sending goes through the official `twilio` SDK (Messages create,
https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource), checked
against tests/sandboxes/specs/twilio-messaging.json:
- The SDK's API domain is built on https://api.twilio.com; PROVIDER_TWILIO_BASE_URL replaces
  that domain's `base_url` (the attribute every request URL is built from), so the SDK's own
  request building, auth and error parsing stay in play against a sandbox or a proxy.
- Either a Messaging Service SID or a From number; StatusCallback carries our webhook URL.
- `price` is a negative decimal string in `price_unit` (a charge), often null at creation;
  we keep the positive amount.
- Validation fetches the account (GET /2010-04-01/Accounts/{Sid}.json): cheap, authenticated,
  sends nothing, and tells a suspended or closed account apart.
- Twilio has no idempotency key on Messages create.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from adapters.errors import (
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    classify_http_status,
)
from adapters.http import provider_base_url
from adapters.inbound import (
    EventType,
    InboundEvent,
    InboundRequest,
    MalformedPayload,
    SignatureInvalid,
    VerificationSecrets,
    drop_empty,
    form_body,
    form_pairs,
    received_now,
    require,
)
from adapters.redaction import redact
from adapters.signing import (
    constant_time_equals,
    hmac_sha1_base64,
    hmac_sha256_base64,
    matches_any,
    require_secret,
)
from adapters.types import OutboundSms, SendResult, ValidationResult

key = "twilio"
display_name = "Twilio"
SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
_MAX_SIGNATURE_CHARS = 128

# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
EVENT_TYPES: dict[str, EventType] = {
    "accepted": EventType.QUEUED,
    "scheduled": EventType.QUEUED,
    "queued": EventType.QUEUED,
    "sending": EventType.QUEUED,
    "sent": EventType.SENT,
    "delivered": EventType.DELIVERED,
    "undelivered": EventType.FAILED,  # the carrier could not deliver it
    "failed": EventType.FAILED,  # Twilio could not send it
    "read": EventType.READ,  # WhatsApp / RCS only
    "canceled": EventType.DROPPED,  # a scheduled message canceled before sending
    "received": EventType.INBOUND_MESSAGE,
}


def _url_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    credentials = parts.netloc.rpartition("@")[0]
    prefix = f"{credentials}@" if credentials else ""
    try:
        port = parts.port
    except ValueError:
        raise SignatureInvalid("the request URL has an invalid port") from None
    without_port = urlunsplit(parts._replace(netloc=prefix + host))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port or default_port}"))
    return [url, without_port, with_port]


def _signed_params(pairs: list[tuple[str, str]]) -> str:
    values_by_name: dict[str, set[str]] = {}
    for name, value in pairs:
        values_by_name.setdefault(name, set()).add(value)
    return "".join(
        name + value for name in sorted(values_by_name) for value in sorted(values_by_name[name])
    )


def _digest_function(settings_header: str | None):
    algorithm = "HMAC_SHA1"
    for part in (settings_header or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            algorithm = value.strip().upper()
    if algorithm == "HMAC_SHA1":
        return hmac_sha1_base64
    if algorithm == "HMAC_SHA256":
        return hmac_sha256_base64
    raise SignatureInvalid(f"unsupported Twilio signature algorithm '{algorithm}'")


def verify(
    request: InboundRequest,
    secrets: VerificationSecrets,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> None:
    """`now` and `tolerance_seconds` are accepted for a uniform interface; Twilio signs no time."""
    given = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not given or len(given) > _MAX_SIGNATURE_CHARS:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} header is missing or oversized")
    digest = _digest_function(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    auth_token = require_secret(secrets.signing_key, "Twilio Auth Token")
    body_hashes = parse_qs(urlsplit(request.url).query).get("bodySHA256")
    if body_hashes:
        if not constant_time_equals(hashlib.sha256(request.body).hexdigest(), body_hashes[0]):
            raise SignatureInvalid("bodySHA256 does not match the body")
        params = ""
    else:
        try:
            params = _signed_params(form_pairs(request.body))
        except MalformedPayload:
            raise SignatureInvalid(
                "the body is not form-encoded, so it cannot be checked"
            ) from None
    candidates = [digest(auth_token, (url + params).encode()) for url in _url_variants(request.url)]
    if not matches_any(given, candidates):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the URL and parameters")


def handshake(request: InboundRequest, secrets: VerificationSecrets) -> None:
    """Twilio has no subscription handshake."""
    return None


def parse(request: InboundRequest) -> list[InboundEvent]:
    params = form_body(request)
    message_sid = (
        require(params, "MessageSid", where="callback")
        if "MessageSid" in params
        else require(params, "SmsSid", where="callback")
    )
    # MessageStatus is the current name; SmsStatus the legacy alias that inbound SMS still use.
    status = params.get("MessageStatus") or params.get("SmsStatus")
    if not status:
        raise MalformedPayload("callback needs 'MessageStatus'")
    event_type = EVENT_TYPES.get(status, EventType.UNKNOWN)
    details = {
        "from": params.get("From"),
        "to": params.get("To"),
        "account_sid": params.get("AccountSid"),
        "messaging_service_sid": params.get("MessagingServiceSid"),
        "error_code": params.get("ErrorCode"),
        "carrier_done_date": params.get("RawDlrDoneDate"),  # YYMMDDhhmm, zone unspecified
    }
    if event_type is EventType.INBOUND_MESSAGE:
        details.update(text=params.get("Body"), num_media=params.get("NumMedia"))
    return [
        InboundEvent(
            type=event_type,
            external_id=f"{message_sid}:{status}",
            occurred_at=received_now(),
            subject_id=message_sid,
            raw=params,
            vendor_type=status,
            details=drop_empty(details),
        )
    ]


# --- sending -----------------------------------------------------------------------------

# The SDK logs every request line (account SID included) at INFO; keep it to warnings.
_sdk_logger = logging.getLogger("adapters.providers.twilio.sdk")
_sdk_logger.setLevel(logging.WARNING)


@dataclass(frozen=True)
class Config:
    account_sid: str
    auth_token: str
    messaging_service_sid: str = ""
    from_number: str = ""
    base_url: str = field(
        default_factory=lambda: provider_base_url("twilio", "https://api.twilio.com")
    )
    timeout_seconds: float = 10.0


def _client(config: Config) -> Client:
    client = Client(
        config.account_sid,
        config.auth_token,
        http_client=TwilioHttpClient(timeout=config.timeout_seconds, logger=_sdk_logger),
    )
    client.api.base_url = config.base_url
    return client


def _translate(exc: TwilioRestException, where: str) -> ProviderError:
    text = redact(str(exc.msg or ""))[:300]
    code = str(exc.code) if exc.code is not None else None
    error = classify_http_status(
        int(exc.status),
        provider=key,
        retry_after=None,
        message=f"Twilio answered {exc.status} to {where}: {text}",
    )
    error.code = code
    return error


def _call(where: str, fn):
    try:
        return fn()
    except TwilioRestException as exc:
        raise _translate(exc, where) from None
    except requests.RequestException as exc:
        raise ProviderUnavailable(
            f"Twilio: {where} failed ({type(exc).__name__})", provider=key, code="connection_failed"
        ) from None


def _price(value: str | None) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return abs(Decimal(value))
    except InvalidOperation:
        return None


def send_sms(config: Config, sms: OutboundSms, *, status_callback_url: str = "") -> SendResult:
    params: dict = {"to": sms.to, "body": sms.body}
    if config.messaging_service_sid:
        params["messaging_service_sid"] = config.messaging_service_sid
    else:
        params["from_"] = config.from_number
    if status_callback_url:
        params["status_callback"] = status_callback_url
    client = _client(config)
    message = _call("POST Messages.json", lambda: client.messages.create(**params))
    if message.status == "failed":
        raise ProviderRejected(
            f"Twilio refused the SMS (error {message.error_code})",
            provider=key,
            code=str(message.error_code or ""),
        )
    if not message.sid:
        raise ProviderUnavailable(
            "Twilio accepted the SMS but its answer carried no sid", provider=key
        )
    price = _price(message.price)
    return SendResult(
        provider_message_id=message.sid,
        cost_amount=price,
        cost_currency=(message.price_unit or "").upper()[:3] if price is not None else "",
        details={"status": message.status, "num_segments": message.num_segments},
    )


def validate(config: Config) -> ValidationResult:
    client = _client(config)
    found = _call(
        "GET Accounts/{Sid}.json", lambda: client.api.v2010.accounts(config.account_sid).fetch()
    )
    if found.status != "active":
        raise ProviderRejected(f"the Twilio account is {found.status}, not active", provider=key)
    return ValidationResult(
        message=f"authenticated with Twilio account …{config.account_sid[-4:]} (active)",
        details={"account_status": found.status},
    )
