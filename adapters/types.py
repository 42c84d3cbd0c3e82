"""Plain result types adapters return (never provider SDK objects)."""
from __future__ import annotations

from dataclasses import dataclass, field


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
