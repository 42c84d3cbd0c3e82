"""The sync app's integration families: crm (Dynamics 365), lms (Cornerstone, Consio) and erp
(third-party ERPs over the hub's ERP interface). Registered with the integrations registry as
app families, so validate, the lifecycle and usage work as for every other family; their CRUD
is mounted at /api/v1/sync/<family>/configs/ (sync/urls.py)."""
from __future__ import annotations

import re

from rest_framework import serializers

from adapters.providers import consio, cornerstone, dynamics365, hub_erp_api
from integrations.errors import ApplicationError
from integrations.families.accounting import ACCOUNT_CATEGORIES
from integrations.families.provider_interface import ApiBaseUrlField, api_base_url_problem
from integrations.families.registry import FamilySpec, ProviderBinding, register_app_family
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from sync.connectors.crm import MAPPABLE_FIELDS, dynamics_config
from sync.connectors.lms import lms_config
from sync.models import CrmIntegration, ErpIntegration, LmsIntegration, ThirdPartyProvider

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DOMAIN = re.compile(r"([a-z0-9-]{1,63}\.)+[a-z]{2,63}")
_ACCOUNT_CODE = re.compile(r"[A-Za-z0-9]{1,10}")
_COURSE_CODE = re.compile(r"[\w.-]{1,60}")


class CrmInput(IntegrationInputSerializer):
    allowed_capabilities = ("members",)
    environment_url = ApiBaseUrlField(required=False, allow_blank=True)
    sync_direction = serializers.ChoiceField(choices=["push", "pull", "bidirectional"], required=False)
    field_mapping = serializers.JSONField(required=False)

    class Meta:
        model = CrmIntegration
        fields = BASE_INPUT_FIELDS + ["environment_url", "directory_tenant_id", "client_id", "client_secret_ref",
                                      "field_mapping", "member_key_column", "sync_direction"]

    def validate_directory_tenant_id(self, value: str) -> str:
        if value and not (_GUID.fullmatch(value) or _DOMAIN.fullmatch(value.lower())):
            raise serializers.ValidationError("must be the Microsoft Entra tenant id (a GUID) or its domain")
        return value

    def validate_client_id(self, value: str) -> str:
        if value and not _GUID.fullmatch(value):
            raise serializers.ValidationError("must be the application (client) id, a GUID")
        return value

    def validate_member_key_column(self, value: str) -> str:
        if not dynamics365.COLUMN.fullmatch(value):
            raise serializers.ValidationError("must be a Dataverse column logical name (lower case, digits, _)")
        return value

    def validate_field_mapping(self, value) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError('must be an object of member field to column, e.g. {"email": '
                                              '"emailaddress1"}')
        problems = [f"{name}: not a member field ({', '.join(MAPPABLE_FIELDS)})" for name in value
                    if name not in MAPPABLE_FIELDS]
        problems += [f"{name}: '{column}' is not a column logical name" for name, column in value.items()
                     if not isinstance(column, str) or not dynamics365.COLUMN.fullmatch(column)]
        if problems:
            raise serializers.ValidationError(problems)
        return value


class LmsInput(IntegrationInputSerializer):
    allowed_capabilities = ("enrollments",)
    api_base_url = ApiBaseUrlField(required=False, allow_blank=True)
    course_mapping = serializers.JSONField(required=False)

    class Meta:
        model = LmsIntegration
        fields = BASE_INPUT_FIELDS + ["api_base_url", "client_id", "client_secret_ref", "api_key_ref", "delivery",
                                      "csv_fallback", "course_mapping", "learner_id_field"]

    def validate_course_mapping(self, value) -> dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
            raise serializers.ValidationError('must be an object of hub course code to the provider\'s course id, '
                                              'e.g. {"COACH-1": "7ad38cb9-04e1-47be-8334-09a4484f82ad"}')
        bad = [code for code in value if not _COURSE_CODE.fullmatch(code)]
        if bad:
            raise serializers.ValidationError([f"'{code[:60]}' is not a course code" for code in bad])
        return value

    def validate(self, attrs):
        provider = attrs.get("provider", getattr(self.instance, "provider", ""))
        unused = {cornerstone.key: ("api_key_ref",), consio.key: ("client_id", "client_secret_ref")}.get(provider, ())
        errors = {name: [f"not used by {provider}"] for name in unused if attrs.get(name)}
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ErpInput(IntegrationInputSerializer):
    allowed_capabilities = ("invoices", "payments", "expenses", "reimbursements", "members")
    third_party = serializers.SlugRelatedField(slug_field="key", queryset=ThirdPartyProvider.objects.none(),
                                               help_text="The key of a registered third-party provider.")
    provider = serializers.ChoiceField(choices=[hub_erp_api.key], required=False, default=hub_erp_api.key)
    chart_of_accounts_mapping = serializers.JSONField(required=False)

    class Meta:
        model = ErpIntegration
        fields = BASE_INPUT_FIELDS + ["third_party", "company_code", "chart_of_accounts_mapping"]

    def get_fields(self):
        fields = super().get_fields()
        fields["third_party"].queryset = ThirdPartyProvider.objects.filter(tenant=self.context["tenant"],
                                                                           is_active=True)
        return fields

    def validate_chart_of_accounts_mapping(self, value) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError('must be an object of category to account, e.g. {"license_fees": '
                                              '"3010"}')
        problems = {str(k)[:64]: ["unknown category"] for k in value if k not in ACCOUNT_CATEGORIES}
        problems |= {k: ["must be an account code of 1-10 letters or digits"] for k, v in value.items()
                     if k in ACCOUNT_CATEGORIES and not (isinstance(v, str) and _ACCOUNT_CODE.fullmatch(v))}
        if problems:
            raise serializers.ValidationError(problems)
        return value


# --- bindings --------------------------------------------------------------------------------

def erp_config(integration: ErpIntegration, resolve) -> hub_erp_api.Config:
    provider = integration.third_party
    if provider is None or not provider.is_active:
        raise ApplicationError("the integration names no active third-party provider", code="incomplete")
    if problem := api_base_url_problem(provider.base_url):
        raise ApplicationError(f"{provider.display_name}: base_url {problem}", code="invalid_base_url")
    return hub_erp_api.Config(base_url=provider.base_url, api_key=resolve(provider.auth_ref),
                              display_name=provider.display_name)


def _consio_preflight(integration: LmsIntegration, config) -> str | None:
    if not integration.course_mapping:
        return "course_mapping needs at least one course: validation reads a mapped course"
    return None


def _binding(adapter, build_config, **options) -> ProviderBinding:
    return ProviderBinding(key=adapter.key, display_name=adapter.display_name, build_config=build_config,
                           validate=adapter.validate, **options)


CRM = register_app_family(FamilySpec(
    slug="crm", label="CRM", model=CrmIntegration, input_serializer=CrmInput,
    providers={dynamics365.key: _binding(dynamics365, dynamics_config, required_refs=("client_secret_ref",))}))
LMS = register_app_family(FamilySpec(
    slug="lms", label="Learning management", model=LmsIntegration, input_serializer=LmsInput,
    providers={cornerstone.key: _binding(cornerstone, lms_config, required_refs=("client_secret_ref",)),
               consio.key: _binding(consio, lms_config, required_refs=("api_key_ref",),
                                    sandbox_check=_consio_preflight)}))
ERP = register_app_family(FamilySpec(
    slug="erp", label="ERP (third-party)", model=ErpIntegration, input_serializer=ErpInput,
    providers={hub_erp_api.key: _binding(hub_erp_api, erp_config)}))
SYNC_FAMILY_SPECS = {"crm": CRM, "lms": LMS, "erp": ERP}
