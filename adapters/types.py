"""Plain result types adapters return (never provider SDK objects)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class ValidationResult:
    """A passed pre-flight call; a failed one raises a ProviderError instead."""

    message: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentResult:
    provider_payment_id: str
    status: str  # the hub's vocabulary: submitted, requires_action, processing, succeeded, failed, canceled
    client_secret_present: bool = False


@dataclass(frozen=True)
class GeocodeResult:
    """The best match for an address; the mapping family's providers all answer this shape."""

    formatted_address: str
    latitude: float
    longitude: float
    provider_place_id: str


@dataclass(frozen=True)
class EmailRecipient:
    email: str
    name: str = ""


@dataclass(frozen=True)
class OutboundEmail:
    """One email as every email provider is handed it. Each recipient gets their own copy and
    never sees the others. `reference` is the hub's message id, attached as a custom variable
    so provider events and support tickets can be traced back to the message."""

    reference: str
    to: tuple[EmailRecipient, ...]
    subject: str = ""
    template_id: str = ""
    template_data: dict = field(default_factory=dict)
    body_text: str = ""
    body_html: str = ""


@dataclass(frozen=True)
class OutboundSms:
    reference: str
    to: str  # E.164
    body: str


@dataclass(frozen=True)
class SendResult:
    """A message the provider accepted. Cost is in currency units (not the provider's minor
    units), when the provider states it at send time."""

    provider_message_id: str
    cost_amount: Decimal | None = None
    cost_currency: str = ""
    details: dict = field(default_factory=dict)
