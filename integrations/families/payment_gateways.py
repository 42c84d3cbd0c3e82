"""Payment gateways. Stripe is validated by an authenticated customers list through its SDK."""
from __future__ import annotations

from rest_framework import serializers

from adapters.providers import stripe as stripe_adapter
from integrations.families.registry import FamilySpec, ProviderBinding, register
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from integrations.families.validators import normalise_currency
from integrations.models import PaymentGatewayIntegration


class PaymentGatewayInput(IntegrationInputSerializer):
    allowed_capabilities = ("payments", "refunds", "subscriptions", "payouts")

    supported_currencies = serializers.ListField(child=serializers.CharField(max_length=3), min_length=1,
                                                 max_length=50, required=False)

    class Meta:
        model = PaymentGatewayIntegration
        fields = BASE_INPUT_FIELDS + ["supported_currencies", "default_currency", "merchant_account_id",
                                      "api_key_ref", "oauth_client_secret_ref", "signing_certificate_ref",
                                      "webhook_signing_key_ref"]

    def validate_supported_currencies(self, value: list[str]) -> list[str]:
        normalised, errors = [], []
        for code in value:
            try:
                normalised.append(normalise_currency(code))
            except ValueError as exc:
                errors.append(str(exc))
        if errors:
            raise serializers.ValidationError(errors)
        return list(dict.fromkeys(normalised))

    def validate_default_currency(self, value: str) -> str:
        if not value:
            return value
        try:
            return normalise_currency(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs):
        currencies = attrs.get("supported_currencies", getattr(self.instance, "supported_currencies", []))
        default = attrs.get("default_currency", getattr(self.instance, "default_currency", ""))
        if default and default not in currencies:
            raise serializers.ValidationError({"default_currency": [f"'{default}' is not among supported_currencies"]})
        return attrs


def _stripe_config(integration: PaymentGatewayIntegration, resolve) -> stripe_adapter.Config:
    return stripe_adapter.Config(api_key=resolve(integration.api_key_ref))


def _stripe_sandbox_check(integration: PaymentGatewayIntegration, config: stripe_adapter.Config) -> str | None:
    if integration.sandbox_mode and not config.api_key.startswith(("sk_test_", "rk_test_")):
        return "sandbox mode needs a Stripe test-mode key (sk_test_… or rk_test_…)"
    return None


SPEC = register(FamilySpec(
    slug="payment-gateways",
    label="Payment gateway",
    model=PaymentGatewayIntegration,
    input_serializer=PaymentGatewayInput,
    providers={
        "stripe": ProviderBinding(key="stripe", display_name=stripe_adapter.display_name,
                                  build_config=_stripe_config, validate=stripe_adapter.validate,
                                  required_refs=("api_key_ref",), sandbox_check=_stripe_sandbox_check,
                                  receives_webhooks=True),
    },
))
