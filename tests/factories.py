"""Small builders for rows tests start from. They go through the services where one exists."""
from __future__ import annotations

from django.utils import timezone

from integrations.lifecycle import Status
from integrations.models import PaymentGatewayIntegration


def payment_gateway(tenant, *, status: str = Status.DRAFT, validated: bool = False, **fields):
    defaults = {"display_name": "Stripe (test)", "provider": "stripe", "family": "payment-gateways",
                "supported_currencies": ["SEK", "EUR"], "default_currency": "SEK",
                "api_key_ref": "env://HUB_SECRET_TEST_STRIPE_KEY"}
    integration = PaymentGatewayIntegration.objects.create(tenant=tenant, status=status, **(defaults | fields))
    if validated:
        PaymentGatewayIntegration.objects.filter(pk=integration.pk).update(
            last_validated_at=timezone.now(), last_validation_passed=True, last_validation_message="ok")
        integration.refresh_from_db()
    return integration
