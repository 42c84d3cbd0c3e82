"""Stripe, through the official `stripe` SDK (StripeClient).

Docs: https://docs.stripe.com/api (customers list, payment intents, idempotent requests:
https://docs.stripe.com/api/idempotent_requests). The published description we build and test
against is tests/sandboxes/specs/stripe.json (API version 2020-08-27).
Quirks:
- The SDK retries network errors itself; we set max_network_retries=0 because retries are the
  resilience wrapper's job and must be counted per attempt.
- Stripe has no balance operation in the trimmed description; validation lists one customer,
  which is cheap, authenticated and side-effect free.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import stripe

from adapters.errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from adapters.http import provider_base_url
from adapters.types import PaymentResult, ValidationResult

key = "stripe"
display_name = "Stripe"

# https://docs.stripe.com/api/payment_intents/object#payment_intent_object-status
_STATUS = {
    "requires_payment_method": "requires_action",
    "requires_confirmation": "requires_action",
    "requires_action": "requires_action",
    "processing": "processing",
    "requires_capture": "processing",
    "succeeded": "succeeded",
    "canceled": "canceled",
}


@dataclass(frozen=True)
class Config:
    api_key: str
    base_url: str = field(default_factory=lambda: provider_base_url("stripe", "https://api.stripe.com"))
    timeout_seconds: float = 10.0


def _client(config: Config) -> stripe.StripeClient:
    return stripe.StripeClient(
        config.api_key,
        base_addresses={"api": config.base_url},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=config.timeout_seconds),
    )


def _translate(exc: stripe.StripeError) -> ProviderError:
    status = getattr(exc, "http_status", None)
    message = getattr(exc, "user_message", None) or str(exc) or exc.__class__.__name__
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        return ProviderAuthFailed(message, provider=key, retryable=False, status_code=status)
    if isinstance(exc, stripe.RateLimitError):
        retry_after = None
        headers = getattr(exc, "headers", None) or {}
        if headers.get("Retry-After", "").isdigit():
            retry_after = float(headers["Retry-After"])
        return ProviderRateLimited(message, provider=key, retryable=True, status_code=429, retry_after=retry_after)
    if isinstance(exc, stripe.APIConnectionError):
        return ProviderUnavailable(message, provider=key, retryable=True)
    if status is not None and status >= 500:
        return ProviderUnavailable(message, provider=key, retryable=True, status_code=status)
    code = getattr(exc, "code", None)
    return ProviderRejected(message, provider=key, retryable=False, status_code=status, code=code)


def validate(config: Config) -> ValidationResult:
    try:
        page = _client(config).v1.customers.list(params={"limit": 1})
    except stripe.StripeError as exc:
        raise _translate(exc) from None
    livemode = bool(getattr(page, "livemode", False)) or config.api_key.startswith("sk_live_")
    return ValidationResult(message="authenticated with Stripe" + (" (live mode)" if livemode else " (test mode)"),
                            details={"livemode": livemode})


def create_payment_intent(config: Config, *, amount: int, currency: str, description: str = "",
                          receipt_email: str = "", metadata: dict | None = None,
                          idempotency_key: str) -> PaymentResult:
    params: dict = {"amount": amount, "currency": currency.lower()}
    if description:
        params["description"] = description
    if receipt_email:
        params["receipt_email"] = receipt_email
    if metadata:
        params["metadata"] = {str(k): str(v) for k, v in metadata.items()}
    try:
        intent = _client(config).v1.payment_intents.create(params=params, options={"idempotency_key": idempotency_key})
    except stripe.StripeError as exc:
        raise _translate(exc) from None
    return PaymentResult(provider_payment_id=intent.id, status=_STATUS.get(intent.status, "submitted"),
                         client_secret_present=bool(getattr(intent, "client_secret", None)))
