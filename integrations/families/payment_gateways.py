"""Payment gateways. Stripe is validated by an authenticated customers list through its SDK;
PayPal, Swish, iDEAL (Rabo Smart Pay), Mercado Pago and PagBank by a cheap authenticated call
each, described in their adapter modules."""
from __future__ import annotations

import re

from rest_framework import serializers

from adapters.providers import ideal, mercado_pago, pagseguro, paypal, swish
from adapters.providers import stripe as stripe_adapter
from adapters.providers.hub_interface import CertificateSigner, SigningMaterialInvalid
from integrations.errors import ApplicationError
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
                                      "oauth_client_id", "api_key_ref", "oauth_client_secret_ref",
                                      "signing_certificate_ref", "webhook_signing_key_ref"]

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
        provider = attrs.get("provider", getattr(self.instance, "provider", ""))
        merchant = attrs.get("merchant_account_id", getattr(self.instance, "merchant_account_id", ""))
        if provider == "swish" and merchant and not _SWISH_MERCHANT_NUMBER.fullmatch(merchant):
            raise serializers.ValidationError({"merchant_account_id": [
                "a Swish merchant number is ten digits starting with 123"]})
        return attrs


def _stripe_config(integration: PaymentGatewayIntegration, resolve) -> stripe_adapter.Config:
    return stripe_adapter.Config(api_key=resolve(integration.api_key_ref))


def _stripe_sandbox_check(integration: PaymentGatewayIntegration, config: stripe_adapter.Config) -> str | None:
    if integration.sandbox_mode and not config.api_key.startswith(("sk_test_", "rk_test_")):
        return "sandbox mode needs a Stripe test-mode key (sk_test_… or rk_test_…)"
    return None


_SWISH_MERCHANT_NUMBER = re.compile(r"123\d{7}")


def _required(integration, field: str, why: str) -> str:
    value = getattr(integration, field)
    if not value:
        raise ApplicationError(f"{field} is required: {why}", code="incomplete")
    return value


def _paypal_config(integration: PaymentGatewayIntegration, resolve) -> paypal.Config:
    return paypal.Config(client_id=_required(integration, "oauth_client_id", "PayPal's REST app client id"),
                         client_secret=resolve(integration.oauth_client_secret_ref),
                         sandbox=integration.sandbox_mode, base_url=paypal.default_base_url(integration.sandbox_mode))


def _swish_config(integration: PaymentGatewayIntegration, resolve) -> swish.Config:
    pem = resolve(integration.signing_certificate_ref)
    try:
        CertificateSigner.from_pem(pem)  # a clear message for a bad PEM before any TLS handshake
    except SigningMaterialInvalid as exc:
        raise ApplicationError(f"signing_certificate_ref: {exc}", code="invalid") from None
    return swish.Config(certificate_pem=pem, sandbox=integration.sandbox_mode,
                        base_url=swish.default_base_url(integration.sandbox_mode),
                        payee_alias=_required(integration, "merchant_account_id", "the Swish merchant number"))


def _ideal_config(integration: PaymentGatewayIntegration, resolve) -> ideal.Config:
    return ideal.Config(refresh_token=resolve(integration.api_key_ref),
                        base_url=ideal.default_base_url(integration.sandbox_mode))


def _mercado_pago_config(integration: PaymentGatewayIntegration, resolve) -> mercado_pago.Config:
    return mercado_pago.Config(access_token=resolve(integration.api_key_ref), sandbox=integration.sandbox_mode)


def _pagseguro_config(integration: PaymentGatewayIntegration, resolve) -> pagseguro.Config:
    return pagseguro.Config(token=resolve(integration.api_key_ref),
                            base_url=pagseguro.default_base_url(integration.sandbox_mode))


def _binding(adapter, build_config, required_refs: tuple[str, ...]) -> ProviderBinding:
    return ProviderBinding(key=adapter.key, display_name=adapter.display_name, build_config=build_config,
                           validate=adapter.validate, required_refs=required_refs)


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
        # PayPal's client-credentials grant needs no user authorisation, so it is not an OAuth binding.
        "paypal": _binding(paypal, _paypal_config, ("oauth_client_secret_ref",)),
        "swish": _binding(swish, _swish_config, ("signing_certificate_ref",)),
        "ideal": _binding(ideal, _ideal_config, ("api_key_ref",)),
        "mercado_pago": _binding(mercado_pago, _mercado_pago_config, ("api_key_ref",)),
        "pagseguro": _binding(pagseguro, _pagseguro_config, ("api_key_ref",)),
    },
))
