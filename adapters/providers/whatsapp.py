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

Sending (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages) goes
through the shared ProviderHttpClient, checked against tests/sandboxes/specs/whatsapp-cloud.json:
- POST /{version}/{phone-number-id}/messages with `Authorization: Bearer <access token>`. The
  Graph version is PROVIDER_WHATSAPP_API_VERSION, by default the one the vendored description
  documents (v23.0); the host is PROVIDER_WHATSAPP_BASE_URL (https://graph.facebook.com).
- Template messages name the template, its language (`policy: deterministic`) and the
  parameters per component; text messages carry `body` and `preview_url`; a media link turns
  a text message into an image / video / document message with the text as caption, and
  becomes the header of a template.
- The answer's `messages[0].id` (a `wamid.…`) is what status webhooks carry as `statuses[].id`.
- Meta asks clients to classify errors by the body's `error.code`, not the HTTP status (a
  bad token is 400 code 190, throughput limits are 400 code 130429): the client keeps the
  last error body and the typed error is chosen from its code. The Cloud API has no
  idempotency key.
- Validation reads one message template of the WhatsApp Business Account
  (GET /{version}/{waba-id}/message_templates?limit=1): the description has no read of the
  phone number itself, and this proves the token and its access to the account.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

from adapters.errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from adapters.http import ProviderHttpClient, provider_base_url
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
from adapters.redaction import redact
from adapters.signing import constant_time_equals, require_secret, verify_prefixed_hmac
from adapters.types import SendResult, ValidationResult

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


# --- sending -----------------------------------------------------------------------------

DEFAULT_API_VERSION = "v23.0"  # what tests/sandboxes/specs/whatsapp-cloud.json describes
MEDIA_KINDS = ("image", "video", "document")
_MEDIA_BY_EXTENSION = {".mp4": "video", ".3gp": "video", ".pdf": "document", ".doc": "document",
                       ".docx": "document", ".xls": "document", ".xlsx": "document", ".txt": "document"}
# https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
_AUTH_CODES = frozenset({0, 3, 10, 190, *range(200, 300)})
_RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131048, 131056})
_TRANSIENT_CODES = frozenset({1, 2, 131000, 131016, 133004})
_ERROR_TEXT_LIMIT = 300


@dataclass(frozen=True)
class Config:
    access_token: str
    phone_number_id: str
    business_account_id: str = ""
    api_version: str = field(default_factory=lambda: os.environ.get(
        "PROVIDER_WHATSAPP_API_VERSION", "").strip() or DEFAULT_API_VERSION)
    base_url: str = field(default_factory=lambda: provider_base_url("whatsapp", "https://graph.facebook.com"))
    timeout_seconds: float = 10.0

    def __repr__(self) -> str:  # never the token
        return f"Config(phone_number_id={self.phone_number_id!r}, api_version={self.api_version!r})"


@dataclass(frozen=True)
class OutboundWhatsApp:
    """One message. `parameters` are template parameters: plain strings (body text) or typed
    parameter objects as the Cloud API takes them, with an optional `component` (`body`, or
    `header` for media) saying where each goes."""

    reference: str
    to: str  # E.164
    kind: str  # template | text
    template_name: str = ""
    language: str = ""
    parameters: tuple = ()
    body: str = ""
    preview_url: bool = False
    media_url: str = ""


def media_kind(url: str) -> str:
    path = url.split("?", 1)[0].lower()
    extension = path[path.rfind("."):] if "." in path.rsplit("/", 1)[-1] else ""
    return _MEDIA_BY_EXTENSION.get(extension, "image")


def template_components(parameters, media_url: str = "") -> list[dict]:
    header, body = [], []
    if media_url:
        kind = media_kind(media_url)
        header.append({"type": kind, kind: {"link": media_url}})
    for parameter in parameters:
        if isinstance(parameter, str):
            body.append({"type": "text", "text": parameter})
            continue
        parameter = dict(parameter)
        default = "header" if parameter.get("type") in MEDIA_KINDS else "body"
        (header if parameter.pop("component", default) == "header" else body).append(parameter)
    components = [{"type": "header", "parameters": header}] if header else []
    return components + ([{"type": "body", "parameters": body}] if body else [])


def message_body(message: OutboundWhatsApp) -> dict:
    base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": message.to}
    if message.kind == "template":
        template: dict = {"name": message.template_name,
                          "language": {"policy": "deterministic", "code": message.language}}
        components = template_components(message.parameters, message.media_url)
        if components:
            template["components"] = components
        return {**base, "type": "template", "template": template}
    if message.media_url:
        kind = media_kind(message.media_url)
        media = {"link": message.media_url, **({"caption": message.body} if message.body else {})}
        return {**base, "type": kind, kind: media}
    return {**base, "type": "text", "text": {"body": message.body, "preview_url": message.preview_url}}


class _BearerKeepingErrors(httpx.Auth):
    """Adds the bearer token and keeps the last Graph error body, which the shared client's
    status-based error does not carry (see the module docstring)."""

    requires_response_body = True

    def __init__(self, token: str) -> None:
        self._token = token
        self.last_error: dict | None = None

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code >= 400:
            try:
                payload = response.json()
            except ValueError:
                payload = None
            error = payload.get("error") if isinstance(payload, dict) else None
            self.last_error = error if isinstance(error, dict) else None


def _graph_request(config: Config, method: str, path: str, **options) -> dict:
    auth = _BearerKeepingErrors(config.access_token)
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds, auth=auth) as client:
        try:
            response = client.request(method, path, **options)
        except ProviderError as exc:
            raise graph_error(exc, auth.last_error) from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ProviderUnavailable(f"WhatsApp answered {method} {path} with something other than a JSON object",
                                  provider=key, status_code=response.status_code, code="malformed_response")
    return answer


def graph_error(exc: ProviderError, error: dict | None) -> ProviderError:
    """The typed error for a Graph error body; the status-based one when there is no body."""
    if not error or not isinstance(error.get("code"), int):
        return exc
    code = error["code"]
    details = error.get("error_data", {}).get("details") if isinstance(error.get("error_data"), dict) else None
    text = redact(" ".join(str(part) for part in (error.get("message"), details) if part))[:_ERROR_TEXT_LIMIT]
    message = f"WhatsApp answered {exc.status_code} (code {code}): {text}"
    options = {"provider": key, "status_code": exc.status_code, "code": str(code)}
    if code in _AUTH_CODES:
        return ProviderAuthFailed(message, **options)
    if code in _RATE_LIMIT_CODES:
        return ProviderRateLimited(message, retry_after=exc.retry_after, **options)
    if code in _TRANSIENT_CODES or error.get("is_transient") is True or exc.retryable:
        return ProviderUnavailable(message, retry_after=exc.retry_after, **options)
    return ProviderRejected(message, **options)


def send_message(config: Config, message: OutboundWhatsApp) -> SendResult:
    path = f"/{config.api_version}/{quote(config.phone_number_id, safe='')}/messages"
    answer = _graph_request(config, "POST", path, json=message_body(message))
    sent = answer.get("messages")
    message_id = sent[0].get("id") if isinstance(sent, list) and sent and isinstance(sent[0], dict) else None
    if not isinstance(message_id, str) or not message_id:
        raise ProviderUnavailable("WhatsApp accepted the message but its answer carried no message id",
                                  provider=key, code="malformed_response")
    contacts = answer.get("contacts")
    wa_id = contacts[0].get("wa_id") if isinstance(contacts, list) and contacts and isinstance(
        contacts[0], dict) else None
    status = sent[0].get("message_status")
    return SendResult(provider_message_id=message_id,
                      details={name: value for name, value in (("wa_id", wa_id), ("message_status", status))
                               if value})


def validate(config: Config) -> ValidationResult:
    if not config.business_account_id:
        raise ProviderRejected("validation reads the WhatsApp Business Account's templates: set "
                               "business_account_id", provider=key, code="incomplete_config")
    path = f"/{config.api_version}/{quote(config.business_account_id, safe='')}/message_templates"
    answer = _graph_request(config, "GET", path, params={"limit": "1"})
    templates = answer.get("data") if isinstance(answer.get("data"), list) else []
    return ValidationResult(
        message=f"authenticated with WhatsApp Business Account {config.business_account_id}; "
                f"its message templates are readable",
        details={"business_account_id": config.business_account_id, "templates_seen": len(templates)})
