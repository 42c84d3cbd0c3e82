"""Government sports registries: statutory reports through the hub's interface
(docs/provider-interfaces/gov-registries.openapi.json), every request signed with the
federation's certificate, validated by a signed GET /v1/status."""

from __future__ import annotations

from croniter import croniter
from rest_framework import serializers

from adapters.providers import hub_registry_api as registry_adapter
from adapters.providers.hub_interface import CertificateSigner, SigningMaterialInvalid
from integrations.errors import ApplicationError
from integrations.families.provider_interface import ApiBaseUrlField, endpoint_url
from integrations.families.registry import FamilySpec, ProviderBinding, register
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from integrations.models import GovSportsRegistryIntegration

# ISO 3166-1 alpha-2, the 249 officially assigned codes (as tzdata's iso3166.tab lists them),
# kept here so validation does not change under us with a dependency upgrade.
_ISO_3166_TABLE = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
VN VU WF WS YE YT ZA ZM ZW
"""
ISO_3166_ALPHA2 = frozenset(_ISO_3166_TABLE.split())

# Each toggle is also the name of the report it schedules.
REPORTS = (
    "membership_reporting",
    "grant_applications",
    "facility_registration",
    "event_reporting",
    "compliance_tracking",
)


def cron_problem(expression: str) -> str | None:
    """Five fields (minute hour day-of-month month day-of-week), as Celery beat's crontab
    takes them."""
    if not isinstance(expression, str) or len(expression.split()) != 5:
        return (
            "must be a cron expression of five fields: minute hour day-of-month month day-of-week"
        )
    try:
        valid = croniter.is_valid(expression)
    except (ValueError, TypeError, KeyError):
        valid = False
    return None if valid else f"'{expression}' is not a valid cron expression"


class GovRegistryInput(IntegrationInputSerializer):
    allowed_capabilities = REPORTS

    api_base_url = ApiBaseUrlField(required=False, allow_blank=True)
    country_code = serializers.CharField(
        max_length=2, min_length=2, required=False, allow_blank=True
    )
    reporting_schedule = serializers.DictField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text='{"membership_reporting": "0 3 1 * *"}, enabled reports only',
    )

    class Meta:
        model = GovSportsRegistryIntegration
        fields = BASE_INPUT_FIELDS + [
            "api_base_url",
            "country_code",
            "federation_code",
            "api_key_ref",
            "signing_certificate_ref",
            *REPORTS,
            "reporting_schedule",
        ]

    def validate_country_code(self, value: str) -> str:
        upper = value.strip().upper()
        if upper and upper not in ISO_3166_ALPHA2:
            raise serializers.ValidationError(
                f"'{value}' is not an ISO 3166-1 alpha-2 country code"
            )
        return upper

    def validate_federation_code(self, value: str) -> str:
        return value.strip().upper()

    def validate(self, attrs):
        schedule = attrs.get("reporting_schedule", getattr(self.instance, "reporting_schedule", {}))
        errors = []
        for report, expression in schedule.items():
            if report not in REPORTS:
                errors.append(f"'{report}' is not a report; known: {', '.join(REPORTS)}")
            elif not attrs.get(report, getattr(self.instance, report, False)):
                errors.append(f"'{report}' is not enabled; enable it or drop its schedule")
            elif problem := cron_problem(expression):
                errors.append(f"{report}: {problem}")
        if errors:
            raise serializers.ValidationError({"reporting_schedule": errors})
        return attrs


def _registry_config(integration: GovSportsRegistryIntegration, resolve) -> registry_adapter.Config:
    try:
        signer = CertificateSigner.from_pem(resolve(integration.signing_certificate_ref))
    except SigningMaterialInvalid as exc:
        raise ApplicationError(f"signing_certificate_ref: {exc}", code="invalid") from None
    return registry_adapter.Config(
        api_base_url=endpoint_url(integration),
        api_key=resolve(integration.api_key_ref),
        signer=signer,
        federation_code=integration.federation_code,
        country_code=integration.country_code,
        sandbox=integration.sandbox_mode,
    )


SPEC = register(
    FamilySpec(
        slug="gov-registries",
        label="Government sports registry",
        model=GovSportsRegistryIntegration,
        input_serializer=GovRegistryInput,
        providers={
            "hub_registry_api": ProviderBinding(
                key="hub_registry_api",
                display_name=registry_adapter.display_name,
                build_config=_registry_config,
                validate=registry_adapter.validate,
                required_refs=("api_key_ref", "signing_certificate_ref"),
            ),
        },
    )
)
