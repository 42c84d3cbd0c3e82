"""Mailgun webhooks (the JSON "webhooks v3" format): verification and event parsing.

Docs: https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
and https://documentation.mailgun.com/docs/mailgun/user-manual/events/
- The signature is inside the JSON body: `signature.{timestamp, token, signature}`, the hex
  HMAC-SHA256 of `timestamp + token` with the HTTP webhook signing key (not the API key).
  It does NOT cover `event-data`: the body is authentic only as far as TLS says so.
- `parent-signature` appears for events on a subaccount's domain, signed with the primary
  account's key; either signature matching the configured key is accepted.
- Replay: Mailgun asks receivers to refuse a `token` seen before. That needs shared state,
  so it is the caller's concern (the webhook view dedups on `event-data.id`, and may also
  remember tokens); here we only enforce the timestamp window.
- `message.headers.message-id` has no angle brackets, unlike the `id` the send API returns
  (`<…@domain>`); `subject_id` is the bare form.

Sending (https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages)
goes through the shared ProviderHttpClient, checked against tests/sandboxes/specs/mailgun.json:
- POST /v3/{domain}/messages, multipart/form-data (the only body the description allows),
  Basic auth `api:<key>`. The region picks the host: api.eu.mailgun.net or api.mailgun.net;
  PROVIDER_MAILGUN_BASE_URL overrides both.
- Several recipients are sent as a batch (`recipient-variables`), so each gets their own copy.
- The answer's `id` is `<…@domain>`; we store it without the angle brackets, the form the
  webhooks carry. Mailgun has no idempotency key; the hub's message id travels as
  `v:hub_message_id`.
- Validation lists one event of the domain (GET /v3/{domain}/events?limit=1): cheap,
  authenticated, and it proves the key can act on that domain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.utils import formataddr
from urllib.parse import quote

from urllib3 import encode_multipart_formdata

from adapters.errors import ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.inbound import (
    EventType,
    InboundEvent,
    InboundRequest,
    SignatureInvalid,
    VerificationSecrets,
    drop_empty,
    from_unix,
    json_object_body,
    nested,
    require,
)
from adapters.signing import (
    check_freshness,
    hmac_sha256_hex,
    matches_any,
    parse_unix_timestamp,
    require_secret,
)
from adapters.types import OutboundEmail, SendResult, ValidationResult

key = "mailgun"
display_name = "Mailgun"

EVENT_TYPES: dict[str, EventType] = {
    "accepted": EventType.PROCESSED,
    "rejected": EventType.DROPPED,
    "delivered": EventType.DELIVERED,
    "failed": EventType.BOUNCED,  # refined by severity and reason below
    "opened": EventType.OPENED,
    "clicked": EventType.CLICKED,
    "unsubscribed": EventType.UNSUBSCRIBED,
    "complained": EventType.SPAM_REPORT,
}


def verify(
    request: InboundRequest,
    secrets: VerificationSecrets,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> None:
    signing_key = require_secret(secrets.signing_key, "Mailgun HTTP webhook signing key")
    try:
        payload = json.loads(request.body)
    except (UnicodeDecodeError, ValueError):
        raise SignatureInvalid("body is not JSON, so it carries no Mailgun signature") from None
    block = payload.get("signature") if isinstance(payload, dict) else None
    if not isinstance(block, dict):
        raise SignatureInvalid("body has no Mailgun 'signature' block")
    token = block.get("token")
    timestamp_text = str(block.get("timestamp") or "")
    given = [
        value
        for value in (block.get("signature"), block.get("parent-signature"))
        if isinstance(value, str) and value
    ]
    if not isinstance(token, str) or not token or not given:
        raise SignatureInvalid("Mailgun signature block needs timestamp, token and signature")
    timestamp = parse_unix_timestamp(timestamp_text, header="signature.timestamp")
    check_freshness(timestamp, now=now, tolerance_seconds=tolerance_seconds)
    expected = hmac_sha256_hex(signing_key, (timestamp_text + token).encode())
    if not matches_any(expected, [value.lower() for value in given]):
        raise SignatureInvalid("the Mailgun signature does not match")


def handshake(request: InboundRequest, secrets: VerificationSecrets) -> None:
    """Mailgun has no subscription handshake."""
    return None


def parse(request: InboundRequest) -> list[InboundEvent]:
    payload = json_object_body(request)
    data = require(payload, "event-data", dict)
    event_id = require(data, "id", where="event-data")
    vendor_type = require(data, "event", where="event-data")
    occurred_at = from_unix(require(data, "timestamp", (int, float), where="event-data"))
    event_type = _event_type(vendor_type, data)
    headers = nested(nested(data, "message"), "headers")
    message_id = headers.get("message-id")
    status = nested(data, "delivery-status")
    details = {
        "recipient": data.get("recipient"),
        "severity": data.get("severity"),
        "reason": data.get("reason"),
        "url": data.get("url"),
        "code": status.get("code"),
        "response": status.get("message") or status.get("description"),
        "attempt": status.get("attempt-no"),
        "tags": data.get("tags"),
        "user_variables": data.get("user-variables"),
    }
    if event_type is EventType.BOUNCED:
        details["bounce_type"] = "hard"
    elif event_type is EventType.DEFERRED:
        details["bounce_type"] = "soft"
    return [
        InboundEvent(
            type=event_type,
            external_id=event_id,
            occurred_at=occurred_at,
            subject_id=message_id.strip("<>")
            if isinstance(message_id, str) and message_id
            else None,
            raw=data,
            vendor_type=vendor_type,
            details=drop_empty(details),
        )
    ]


def _event_type(vendor_type: str, data: dict) -> EventType:
    if vendor_type != "failed":
        return EVENT_TYPES.get(vendor_type, EventType.UNKNOWN)
    # A temporary failure is retried by Mailgun; a permanent one whose reason is a
    # suppression (suppress-bounce, -unsubscribe, -complaint) never reached the recipient's
    # server, which is SendGrid's "dropped". https://documentation.mailgun.com/docs/mailgun/user-manual/events/#event-structure
    if data.get("severity") == "temporary":
        return EventType.DEFERRED
    if str(data.get("reason") or "").startswith("suppress-"):
        return EventType.DROPPED
    return EventType.BOUNCED


# --- sending -----------------------------------------------------------------------------

REGION_BASE_URLS = {"eu": "https://api.eu.mailgun.net", "us": "https://api.mailgun.net"}


@dataclass(frozen=True)
class Config:
    api_key: str
    domain: str
    from_email: str
    region: str = "eu"
    from_name: str = ""
    tracking: bool = True
    click_tracking: bool = True
    test_mode: bool = False
    timeout_seconds: float = 10.0

    @property
    def base_url(self) -> str:
        return provider_base_url("mailgun", REGION_BASE_URLS[self.region])


def _client(config: Config) -> ProviderHttpClient:
    return ProviderHttpClient(
        key, config.base_url, timeout=config.timeout_seconds, auth=("api", config.api_key)
    )


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def message_fields(config: Config, email: OutboundEmail) -> list[tuple[str, str]]:
    """The form fields of one send; repeated names (`to`) are repeated pairs."""
    fields = [
        ("from", formataddr((config.from_name, config.from_email))),
        ("subject", email.subject),
    ]
    fields += [("to", formataddr((recipient.name, recipient.email))) for recipient in email.to]
    if len(email.to) > 1:
        # Batch sending: one copy per recipient instead of one mail everybody can see.
        fields.append(
            (
                "recipient-variables",
                json.dumps({recipient.email: {"name": recipient.name} for recipient in email.to}),
            )
        )
    if email.template_id:
        fields += [
            ("template", email.template_id),
            ("t:variables", json.dumps(email.template_data)),
        ]
    else:
        fields += [
            (name, value)
            for name, value in (("text", email.body_text), ("html", email.body_html))
            if value
        ]
    fields += [
        ("o:tracking", _yes_no(config.tracking)),
        ("o:tracking-clicks", _yes_no(config.click_tracking)),
        ("v:hub_message_id", email.reference),
    ]
    if config.test_mode:
        fields.append(("o:testmode", "yes"))
    return fields


def send_email(config: Config, email: OutboundEmail) -> SendResult:
    body, content_type = encode_multipart_formdata(message_fields(config, email))
    with _client(config) as client:
        response = client.request(
            "POST",
            f"/v3/{quote(config.domain, safe='')}/messages",
            content=body,
            headers={"Content-Type": content_type},
        )
    try:
        message_id = str(response.json()["id"]).strip().strip("<>")
    except (ValueError, KeyError, TypeError):
        message_id = ""
    if not message_id:
        raise ProviderUnavailable(
            "Mailgun accepted the message but its answer carried no id",
            provider=key,
            status_code=response.status_code,
        )
    return SendResult(provider_message_id=message_id, details={"test_mode": config.test_mode})


def validate(config: Config) -> ValidationResult:
    with _client(config) as client:
        client.request("GET", f"/v3/{quote(config.domain, safe='')}/events", params={"limit": 1})
    return ValidationResult(
        message=f"authenticated with Mailgun for {config.domain} ({config.region.upper()} region)",
        details={"domain": config.domain, "region": config.region},
    )
