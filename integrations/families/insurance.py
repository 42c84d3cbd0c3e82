"""Insurance: member enrolment, claims, premium quotes and certificates through the hub's
interface (docs/provider-interfaces/insurance.openapi.json), validated by GET /v1/status.

The credential is the insurer's API key (`api_key_ref`) or, when the integration was connected
with OAuth (`oauth_client_id` set), the OAuth access token the hub keeps fresh for it.
"""

from __future__ import annotations

from rest_framework import serializers

from adapters.providers import hub_insurance_api as insurance_adapter
from integrations.errors import ApplicationError
from integrations.families.provider_interface import (
    ApiBaseUrlField,
    code_list_field,
    endpoint_url,
    unique,
)
from integrations.families.registry import FamilySpec, ProviderBinding, register
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from integrations.models import InsuranceIntegration


class InsuranceInput(IntegrationInputSerializer):
    allowed_capabilities = ("enrollment", "claims", "quotes", "certificates")

    api_base_url = ApiBaseUrlField(required=False, allow_blank=True)
    policy_group_ids = code_list_field(max_length=100, help_text="The insurer's policy group ids.")
    coverage_types = serializers.ListField(
        child=serializers.ChoiceField(choices=insurance_adapter.COVERAGE_TYPES),
        max_length=10,
        required=False,
        help_text="From the interface's fixed vocabulary: "
        + ", ".join(insurance_adapter.COVERAGE_TYPES),
    )
    oauth_scopes = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=50, required=False
    )

    class Meta:
        model = InsuranceIntegration
        fields = BASE_INPUT_FIELDS + [
            "api_base_url",
            "api_key_ref",
            "oauth_client_id",
            "oauth_client_secret_ref",
            "oauth_scopes",
            "broker_id",
            "policy_group_ids",
            "coverage_types",
            "auto_enrollment",
            "claims_submission",
            "premium_calculation",
            "certificate_generation",
        ]

    def validate_policy_group_ids(self, value: list[str]) -> list[str]:
        return unique(value)

    def validate_coverage_types(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate(self, attrs):
        def current(name):
            return attrs.get(name, getattr(self.instance, name, ""))

        if current("oauth_client_id") and current("api_key_ref"):
            raise serializers.ValidationError(
                {"api_key_ref": ["give either an API key or OAuth client credentials, not both"]}
            )
        return attrs


def _bearer_token(integration: InsuranceIntegration, resolve) -> str:
    if integration.oauth_client_id:
        from integrations.oauth.tokens import oauth_access_token

        return oauth_access_token(integration=integration)
    if not integration.api_key_ref:
        raise ApplicationError(
            "missing credential: set api_key_ref, or connect the insurer with OAuth",
            code="incomplete",
        )
    return resolve(integration.api_key_ref)


def _insurance_config(integration: InsuranceIntegration, resolve) -> insurance_adapter.Config:
    return insurance_adapter.Config(
        api_base_url=endpoint_url(integration),
        bearer_token=_bearer_token(integration, resolve),
        broker_id=integration.broker_id,
        coverage_types=tuple(integration.coverage_types),
        sandbox=integration.sandbox_mode,
    )


SPEC = register(
    FamilySpec(
        slug="insurance",
        label="Insurance",
        model=InsuranceIntegration,
        input_serializer=InsuranceInput,
        providers={
            "hub_insurance_api": ProviderBinding(
                key="hub_insurance_api",
                display_name=insurance_adapter.display_name,
                build_config=_insurance_config,
                validate=insurance_adapter.validate,
                oauth=True,
            ),
        },
    )
)
