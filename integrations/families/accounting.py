"""Accounting and ERP systems: Fortnox, Xero, QuickBooks Online, Visma eAccounting, Visma.net,
Uniconomy (Uni Micro), Tripletex and Xledger.

Six providers connect through OAuth (the token comes from the hub's OAuth token service);
Tripletex combines a consumer token (`oauth_client_secret_ref`: it identifies the integrator,
like a client secret) with the customer's employee token (`api_key_ref`); Xledger takes an API
token (`api_key_ref`). Validation is one read-only call per provider, described in each adapter;
Xero and Visma.net also check that every mapped account exists in the company's chart.

The chart-of-accounts mapping sends the hub's booking categories to the company's accounts:
{"license_fees": "3010", "tournament_fees": "3020"}. Fortnox and Visma eAccounting companies
keep the Swedish BAS chart, whose accounts are four digits in 1000-8999; the other systems use
codes of 1-10 letters and digits.
"""
from __future__ import annotations

import calendar
import re

from rest_framework import serializers

from adapters.providers import fortnox, quickbooks, tripletex, uniconomy, visma, visma_net, xero, xledger
from integrations.errors import ApplicationError
from integrations.families.registry import FamilySpec, ProviderBinding, register
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from integrations.models import AccountingIntegration

Provider = AccountingIntegration.Provider

# The hub's booking categories: what a federation or club invoices, pays and reports.
ACCOUNT_CATEGORIES = frozenset({
    "license_fees", "tournament_fees", "membership_fees", "competition_entry_fees", "sponsorship",
    "grants", "donations", "sales", "merchandise", "ticket_sales", "course_fees", "travel_expenses",
    "accommodation", "equipment", "venue_rental", "referee_fees", "insurance", "reimbursements",
    "bank_fees", "payment_fees", "rounding", "vat_output", "vat_input", "bank", "receivables",
    "payables",
})
MAX_MAPPED_CATEGORIES = len(ACCOUNT_CATEGORIES)
BAS_PROVIDERS = frozenset({Provider.FORTNOX, Provider.VISMA})
_BAS_ACCOUNT = re.compile(r"[1-8]\d{3}")
_ACCOUNT_CODE = re.compile(r"[A-Za-z0-9]{1,10}")

OAUTH_PROVIDERS = frozenset({Provider.FORTNOX, Provider.XERO, Provider.QUICKBOOKS, Provider.VISMA,
                             Provider.VISMA_NET, Provider.UNICONOMY})
OAUTH_FIELDS = ("oauth_client_id", "oauth_client_secret_ref", "oauth_refresh_token_ref")
# The credential fields each provider uses; any other one set is a mistake worth refusing.
CREDENTIAL_FIELDS = {
    **{provider: OAUTH_FIELDS for provider in OAUTH_PROVIDERS},
    Provider.TRIPLETEX: ("oauth_client_secret_ref", "api_key_ref"),
    Provider.XLEDGER: ("api_key_ref",),
}
# Xero signs its webhooks with a per-app webhook key (x-xero-signature).
WEBHOOK_SENDERS = frozenset({Provider.XERO})
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# What company_id is for each provider, and its shape.
COMPANY_IDS: dict[str, tuple[re.Pattern, str]] = {
    Provider.FORTNOX: (re.compile(r"[\w .:-]{1,100}"), "an identifier of the Fortnox company"),
    Provider.VISMA: (re.compile(r"[\w .:-]{1,100}"), "an identifier of the Visma eAccounting company"),
    Provider.XERO: (re.compile(_UUID), "the Xero tenant id (a UUID)"),
    Provider.QUICKBOOKS: (quickbooks.REALM_ID, "the QuickBooks realm id (digits)"),
    Provider.VISMA_NET: (re.compile(_UUID), "the Visma Connect tenant id of the company (a UUID)"),
    Provider.UNICONOMY: (uniconomy.COMPANY_KEY, "the Unimicro CompanyKey (a GUID)"),
    Provider.TRIPLETEX: (tripletex.COMPANY_ID, "the Tripletex id of an accountant's client company (digits)"),
    Provider.XLEDGER: (re.compile(r"[A-Za-z0-9_-]{1,50}"), "the Xledger entity code"),
}


def account_rule(provider: str) -> tuple[re.Pattern, str]:
    if provider in BAS_PROVIDERS:
        return _BAS_ACCOUNT, "a four-digit BAS account number between 1000 and 8999, as a string"
    return _ACCOUNT_CODE, "an account code of 1-10 letters or digits, as a string"


class AccountingInput(IntegrationInputSerializer):
    allowed_capabilities = ("invoices", "payments", "expenses", "vouchers", "customers", "vat_reporting")

    fiscal_year = serializers.IntegerField(min_value=2000, max_value=2100, required=False, allow_null=True)
    fiscal_year_start_month = serializers.IntegerField(min_value=1, max_value=12, required=False)
    fiscal_year_start_day = serializers.IntegerField(min_value=1, max_value=31, required=False)
    chart_of_accounts_mapping = serializers.JSONField(
        required=False, help_text='Booking category -> account, e.g. {"license_fees": "3010"}. Categories: '
                                  + ", ".join(sorted(ACCOUNT_CATEGORIES)) + ".")

    class Meta:
        model = AccountingIntegration
        fields = BASE_INPUT_FIELDS + [*OAUTH_FIELDS, "api_key_ref", "webhook_signing_key_ref", "company_id",
                                      "fiscal_year",
                                      "fiscal_year_start_month", "fiscal_year_start_day", "sync_direction",
                                      "chart_of_accounts_mapping", "invoice_sync", "payment_sync",
                                      "expense_sync", "vat_reporting"]

    def validate(self, attrs):
        def current(name: str, default=None):
            return attrs.get(name, getattr(self.instance, name, default))

        provider = current("provider", "")
        errors: dict = {}
        for name in (*OAUTH_FIELDS, "api_key_ref"):
            if attrs.get(name) and name not in CREDENTIAL_FIELDS.get(provider, ()):
                errors[name] = [f"not used by {provider}: it authenticates with "
                                f"{', '.join(CREDENTIAL_FIELDS.get(provider, ())) or 'nothing'}"]
        if attrs.get("webhook_signing_key_ref") and provider not in WEBHOOK_SENDERS:
            errors["webhook_signing_key_ref"] = [f"{provider} sends no webhooks the hub receives"]
        if attrs.get("company_id") and provider in COMPANY_IDS:
            pattern, meaning = COMPANY_IDS[provider]
            if not pattern.fullmatch(attrs["company_id"]):
                errors["company_id"] = [f"must be {meaning}"]
        if "chart_of_accounts_mapping" in attrs:
            problems = _mapping_problems(attrs["chart_of_accounts_mapping"], provider)
            if problems:
                errors["chart_of_accounts_mapping"] = problems
        if {"fiscal_year_start_month", "fiscal_year_start_day"} & set(attrs):
            month, day = current("fiscal_year_start_month", 1), current("fiscal_year_start_day", 1)
            # The start must exist every year, so February stops at 28.
            last_day = 28 if month == 2 else calendar.monthrange(2001, month)[1]
            if day > last_day:
                errors["fiscal_year_start_day"] = [f"{calendar.month_name[month]} has {last_day} days; "
                                                   f"a fiscal year cannot start on day {day}"]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def _mapping_problems(mapping, provider: str) -> dict[str, list[str]] | list[str]:
    if not isinstance(mapping, dict):
        return ['must be an object of category to account number, e.g. {"license_fees": "3010"}']
    if len(mapping) > MAX_MAPPED_CATEGORIES:
        return [f"maps at most {MAX_MAPPED_CATEGORIES} categories"]
    pattern, meaning = account_rule(provider)
    problems: dict[str, list[str]] = {}
    for category, account in mapping.items():
        if category not in ACCOUNT_CATEGORIES:
            problems[str(category)[:64]] = ["unknown category; known: " + ", ".join(sorted(ACCOUNT_CATEGORIES))]
        elif not isinstance(account, str) or not pattern.fullmatch(account):
            problems[category] = [f"must be {meaning}"]
    return problems


def _mapped_accounts(integration: AccountingIntegration) -> tuple[str, ...]:
    return tuple(sorted(set((integration.chart_of_accounts_mapping or {}).values())))


def _access_token(integration: AccountingIntegration, display_name: str) -> str:
    if not integration.oauth_client_id:
        raise ApplicationError(f"missing credential: {display_name} is reached through an account connected "
                               "with OAuth (oauth_client_id)", code="incomplete")
    # Imported at call time: the OAuth token service sits above the families it serves.
    from integrations.oauth.tokens import oauth_access_token

    return oauth_access_token(integration=integration)


def _company_id(integration: AccountingIntegration, display_name: str) -> str:
    if not integration.company_id:
        meaning = COMPANY_IDS[integration.provider][1]
        raise ApplicationError(f"company_id ({meaning}) is needed to validate {display_name}", code="incomplete")
    return integration.company_id


def _fortnox_config(integration, resolve) -> fortnox.Config:
    return fortnox.Config(access_token=_access_token(integration, fortnox.display_name))


def _xero_config(integration, resolve) -> xero.Config:
    tenant_id = _company_id(integration, xero.display_name)
    return xero.Config(access_token=_access_token(integration, xero.display_name), tenant_id=tenant_id,
                       account_codes=_mapped_accounts(integration))


def _quickbooks_config(integration, resolve) -> quickbooks.Config:
    realm_id = _company_id(integration, quickbooks.display_name)
    return quickbooks.Config(access_token=_access_token(integration, quickbooks.display_name), realm_id=realm_id,
                             base_url=quickbooks.base_url(sandbox=integration.sandbox_mode))


def _visma_config(integration, resolve) -> visma.Config:
    return visma.Config(access_token=_access_token(integration, visma.display_name),
                        base_url=visma.base_url(sandbox=integration.sandbox_mode))


def _visma_net_config(integration, resolve) -> visma_net.Config:
    return visma_net.Config(access_token=_access_token(integration, visma_net.display_name),
                            account_codes=_mapped_accounts(integration))


def _uniconomy_config(integration, resolve) -> uniconomy.Config:
    base_url = uniconomy.base_url(sandbox=integration.sandbox_mode)
    if not base_url:
        raise ApplicationError("live Uniconomy companies need their platform's API host: set "
                               "PROVIDER_UNICONOMY_BASE_URL (the test platform is used in sandbox mode)",
                               code="not_configured")
    company_key = _company_id(integration, uniconomy.display_name)
    return uniconomy.Config(access_token=_access_token(integration, uniconomy.display_name),
                            company_key=company_key, base_url=base_url)


def _tripletex_config(integration, resolve) -> tripletex.Config:
    return tripletex.Config(consumer_token=resolve(integration.oauth_client_secret_ref),
                            employee_token=resolve(integration.api_key_ref),
                            base_url=tripletex.base_url(sandbox=integration.sandbox_mode),
                            company_id=integration.company_id)


def _xledger_config(integration, resolve) -> xledger.Config:
    return xledger.Config(api_token=resolve(integration.api_key_ref),
                          base_url=xledger.base_url(sandbox=integration.sandbox_mode))


def _binding(adapter, build_config, **options) -> ProviderBinding:
    return ProviderBinding(key=adapter.key, display_name=adapter.display_name, build_config=build_config,
                           validate=adapter.validate, **options)


SPEC = register(FamilySpec(
    slug="accounting",
    label="Accounting",
    model=AccountingIntegration,
    input_serializer=AccountingInput,
    providers={binding.key: binding for binding in (
        _binding(fortnox, _fortnox_config, oauth=True),
        # Xero posts signed webhooks (adapters/providers/xero.py verify/parse).
        _binding(xero, _xero_config, oauth=True, receives_webhooks=True),
        _binding(quickbooks, _quickbooks_config, oauth=True),
        _binding(visma, _visma_config, oauth=True),
        _binding(visma_net, _visma_net_config, oauth=True),
        _binding(uniconomy, _uniconomy_config, oauth=True),
        _binding(tripletex, _tripletex_config, required_refs=("oauth_client_secret_ref", "api_key_ref")),
        _binding(xledger, _xledger_config, required_refs=("api_key_ref",)),
    )},
))
