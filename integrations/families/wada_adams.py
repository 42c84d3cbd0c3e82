"""WADA ADAMS: anti-doping whereabouts, TUEs and test results through the hub's interface
(docs/provider-interfaces/wada-adams.openapi.json), validated by a signed GET /v1/status."""

from __future__ import annotations

from adapters.providers import adams as adams_adapter
from integrations.families.provider_interface import (
    ApiBaseUrlField,
    code_list_field,
    endpoint_url,
    unique,
)
from integrations.families.registry import FamilySpec, ProviderBinding, register
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from integrations.models import WadaAdamsIntegration


class WadaAdamsInput(IntegrationInputSerializer):
    allowed_capabilities = ("whereabouts", "tues", "test_results", "notifications")

    api_base_url = ApiBaseUrlField(required=False, allow_blank=True)
    sport_codes = code_list_field(help_text="ADAMS sport codes this integration reports for.")
    athlete_pool_ids = code_list_field(max_length=100, help_text="Registered/testing pool ids.")

    class Meta:
        model = WadaAdamsIntegration
        fields = BASE_INPUT_FIELDS + [
            "api_base_url",
            "api_key_ref",
            "signing_key_ref",
            "organization_code",
            "sport_codes",
            "athlete_pool_ids",
            "whereabouts_sync",
            "tue_management",
            "test_result_tracking",
            "notification_relay",
        ]

    def validate_sport_codes(self, value: list[str]) -> list[str]:
        return unique([code.upper() for code in value])

    def validate_athlete_pool_ids(self, value: list[str]) -> list[str]:
        return unique(value)

    def validate_organization_code(self, value: str) -> str:
        return value.strip().upper()


def _adams_config(integration: WadaAdamsIntegration, resolve) -> adams_adapter.Config:
    return adams_adapter.Config(
        api_base_url=endpoint_url(integration),
        api_key=resolve(integration.api_key_ref),
        signing_key=resolve(integration.signing_key_ref),
        organization_code=integration.organization_code,
        sandbox=integration.sandbox_mode,
    )


SPEC = register(
    FamilySpec(
        slug="wada-adams",
        label="WADA ADAMS",
        model=WadaAdamsIntegration,
        input_serializer=WadaAdamsInput,
        providers={
            "adams": ProviderBinding(
                key="adams",
                display_name=adams_adapter.display_name,
                build_config=_adams_config,
                validate=adams_adapter.validate,
                required_refs=("api_key_ref", "signing_key_ref"),
            ),
        },
    )
)
