"""The inbound webhook endpoint: `/webhooks/<provider>/<config id>/`.

A plain Django view, not DRF: there is no API credential (the provider's signature is the
credential) and it is the hottest path in the service. In order, cheapest first:

1. the provider key, the method and the declared Content-Length (no I/O at all);
2. the config, with its secrets resolved (cached per process, see `webhooks.receivers`);
3. the content type, then the provider's handshake (WhatsApp's GET challenge, Xero's
   Intent to Receive), answered as the provider expects;
4. the signature over the raw body: a failure is 401 (403 when the config has no usable
   key), counted in `webhook_requests_total`, and nothing is stored;
5. parsing (400 when malformed) and one INSERT for all events, duplicates skipped;
6. 200 as soon as that insert has committed; handlers run afterwards in Celery.
"""
from __future__ import annotations

import json
import logging
import time
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, DataError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from adapters.inbound import (
    InboundRequest,
    MalformedPayload,
    SignatureInvalid,
    StaleTimestamp,
    VerificationNotConfigured,
)
from adapters.providers import WEBHOOK_PROVIDERS
from webhooks.metrics import webhook_events_total, webhook_request_duration_seconds, webhook_requests_total
from webhooks.receivers import receiver_get
from webhooks.services.inbound import inbound_events_store

logger = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
_JSON = frozenset({"application/json"})
_FORM = frozenset({"application/x-www-form-urlencoded"})
# Twilio posts forms, or JSON when the URL carries bodySHA256; everyone else here posts JSON.
CONTENT_TYPES: dict[str, frozenset[str]] = {"twilio": _FORM | _JSON, "elks46": _FORM}
HANDSHAKE_GET_PROVIDERS = frozenset({"whatsapp"})
# What a provider gets back for stored events, where its docs ask for something particular.
_TWIML_EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _problem(status: int, code: str, detail: str, headers: dict | None = None) -> HttpResponse:
    body = {"type": f"urn:hub:problem:{code}", "title": code.replace("_", " ").capitalize(),
            "status": status, "detail": detail, "code": code}
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _accepted(provider: str, stored: int, duplicates: int) -> HttpResponse:
    if provider == "elks46":  # 46elks sends a non-empty answer to an inbound SMS back as a reply
        return HttpResponse(b"", status=200, content_type="text/plain")
    if provider == "twilio":  # empty TwiML: acknowledged, no reply message
        return HttpResponse(_TWIML_EMPTY, status=200, content_type="text/xml")
    return HttpResponse(json.dumps({"stored": stored, "duplicates": duplicates}), status=200,
                        content_type="application/json")


@csrf_exempt
def inbound_webhook(request, provider: str, config_id: uuid.UUID) -> HttpResponse:
    started = time.perf_counter()
    label = provider if provider in WEBHOOK_PROVIDERS else "unknown"
    outcome, response = _receive(request, provider, config_id)
    webhook_requests_total.labels(label, outcome).inc()
    webhook_request_duration_seconds.labels(label).observe(time.perf_counter() - started)
    return response


def _receive(request, provider: str, config_id: uuid.UUID) -> tuple[str, HttpResponse]:
    module = WEBHOOK_PROVIDERS.get(provider)
    if module is None:
        return "not_found", _problem(404, "not_found", "no such webhook endpoint")
    allowed = ("GET", "POST") if provider in HANDSHAKE_GET_PROVIDERS else ("POST",)
    if request.method not in allowed:
        return "method_not_allowed", _problem(405, "method_not_allowed", f"use {' or '.join(allowed)}",
                                              {"Allow": ", ".join(allowed)})
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit():
        return "malformed", _problem(400, "invalid_content_length", "Content-Length is not a number")
    if int(declared) > limit:
        return "too_large", _problem(413, "payload_too_large", f"the body is larger than {limit} bytes")

    receiver = receiver_get(provider=provider, config_id=config_id)
    if receiver is None:
        return "not_found", _problem(404, "not_found", "no such webhook endpoint")

    try:
        body = request.body
    except RequestDataTooBig:
        return "too_large", _problem(413, "payload_too_large", f"the body is larger than {limit} bytes")
    if len(body) > limit:
        return "too_large", _problem(413, "payload_too_large", f"the body is larger than {limit} bytes")
    inbound = InboundRequest(
        method=request.method, url=settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path(),
        headers=request.headers, body=body, remote_addr=request.META.get("REMOTE_ADDR"))
    if request.method == "POST" and inbound.content_type not in CONTENT_TYPES.get(provider, _JSON):
        return "unsupported_media_type", _problem(415, "unsupported_media_type",
                                                  f"{provider} webhooks are posted as "
                                                  f"{' or '.join(sorted(CONTENT_TYPES.get(provider, _JSON)))}")
    if receiver.backend_unavailable:
        return "secret_unavailable", _problem(503, "secret_backend_unavailable",
                                              "the signing key cannot be read right now; retry later",
                                              {"Retry-After": "30"})
    if receiver.unresolved:
        return "not_configured", _problem(403, "webhook_not_configured",
                                          f"the config's {receiver.unresolved} does not resolve")

    answer = module.handshake(inbound, receiver.secrets)
    if answer is not None:
        status, headers, content = answer
        response = HttpResponse(content, status=status)
        for name, value in {"Content-Type": "text/plain", **headers}.items():
            response[name] = value
        return "handshake", response
    if request.method != "POST":
        return "method_not_allowed", _problem(405, "method_not_allowed", "only the subscription handshake "
                                              "uses GET", {"Allow": "GET, POST"})

    extra = {"allowed_networks": receiver.allowed_networks} if provider == "elks46" else {}
    try:
        module.verify(inbound, receiver.secrets, tolerance_seconds=settings.WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS,
                      **extra)
    except VerificationNotConfigured as exc:
        return "not_configured", _problem(403, "webhook_not_configured", str(exc))
    except StaleTimestamp as exc:
        return "stale_timestamp", _problem(401, "stale_timestamp", str(exc))
    except SignatureInvalid as exc:
        return "signature_invalid", _problem(401, "signature_invalid", str(exc))

    try:
        events = module.parse(inbound)
    except MalformedPayload as exc:
        return "malformed", _problem(400, "malformed_payload", str(exc))
    except (ValueError, TypeError, KeyError, AttributeError):
        # A provider parser tripping over an authentic but unexpected shape: still the body's fault.
        logger.warning("webhook parser failed on an authentic body", extra={"provider": provider}, exc_info=True)
        return "malformed", _problem(400, "malformed_payload", "the body does not have the provider's shape")

    try:
        result = inbound_events_store(receiver=receiver, events=events,
                                      replay_token=_mailgun_token(body) if provider == "mailgun" else None)
    except DataError:
        # The database refused a value (PostgreSQL jsonb takes no \u0000, for instance): a 400
        # tells the provider not to retry a body that can never be stored.
        return "unstorable", _problem(400, "unstorable_payload", "the events cannot be stored as sent")
    except DatabaseError:
        logger.exception("webhook events could not be stored", extra={"provider": provider})
        return "unavailable", _problem(503, "unavailable", "the events could not be stored; retry later",
                                       {"Retry-After": "30"})
    if result.new_ids:
        webhook_events_total.labels(provider, "new").inc(len(result.new_ids))
    if result.duplicates:
        webhook_events_total.labels(provider, "duplicate").inc(result.duplicates)
    outcome = "accepted" if result.new_ids or not events else "duplicate"
    return outcome, _accepted(provider, len(result.new_ids), result.duplicates)



def _mailgun_token(body: bytes) -> str | None:
    """Mailgun's signature covers only `timestamp + token`, not `event-data`, so a captured
    signature block could be sent again with forged event data inside the time window.
    Mailgun asks receivers to refuse a token seen before: the token is stored with the event,
    unique per config, in the same INSERT, so such a forgery is never stored."""
    try:
        token = json.loads(body)["signature"]["token"]
    except (ValueError, KeyError, TypeError):
        return None  # verify() accepted it, so this does not happen; parse() judges the shape
    return token if isinstance(token, str) else None
