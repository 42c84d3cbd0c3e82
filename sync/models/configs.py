"""Integration configs the sync app owns: CRM (Dynamics 365), learning systems (Cornerstone,
Consio) and third-party ERPs over the hub's ERP interface, plus the per-tenant register of
those third-party providers."""
from __future__ import annotations

from django.db import models

from integrations.models import Integration, TenantOwned


class CrmIntegration(Integration):
    """Microsoft Dynamics 365 (Dataverse) reached with OAuth2 client credentials."""

    class Provider(models.TextChoices):
        DYNAMICS365 = "dynamics365", "Dynamics 365"

    environment_url = models.URLField(max_length=300, blank=True, help_text="https://<org>.crm4.dynamics.com")
    directory_tenant_id = models.CharField(max_length=64, blank=True, help_text="The Microsoft Entra tenant id.")
    client_id = models.CharField(max_length=100, blank=True)
    client_secret_ref = models.CharField(max_length=512, blank=True)
    field_mapping = models.JSONField(default=dict, blank=True,
                                     help_text='Hub member field -> contact column: {"email": "emailaddress1"}')
    member_key_column = models.CharField(max_length=100, default="hub_memberid",
                                         help_text="Alternate-key column holding the hub member id.")
    sync_direction = models.CharField(max_length=16, default="bidirectional")
    last_pulled_at = models.DateTimeField(null=True, blank=True, help_text="modifiedon high-water mark.")


class LmsIntegration(Integration):
    """A learning system receiving course enrolments by API, or by CSV import file."""

    class Provider(models.TextChoices):
        CORNERSTONE = "cornerstone", "Cornerstone OnDemand"
        CONSIO = "consio", "Consio"

    class Delivery(models.TextChoices):
        API = "api", "API"
        CSV = "csv", "CSV import file"

    class LearnerId(models.TextChoices):
        EMAIL = "email", "Member email"
        EXTERNAL_ID = "external_id", "Member external id"
        MEMBER_ID = "member_id", "Hub member id"

    api_base_url = models.URLField(max_length=300, blank=True)
    client_id = models.CharField(max_length=100, blank=True)
    client_secret_ref = models.CharField(max_length=512, blank=True)
    api_key_ref = models.CharField(max_length=512, blank=True)
    delivery = models.CharField(max_length=4, choices=Delivery.choices, default=Delivery.API)
    csv_fallback = models.BooleanField(default=True, help_text="Write a CSV file when the API is unavailable.")
    course_mapping = models.JSONField(default=dict, blank=True, help_text='{"COACH-1": "<provider course id>"}')
    learner_id_field = models.CharField(max_length=12, choices=LearnerId.choices, default=LearnerId.EMAIL)


class ThirdPartyProvider(TenantOwned):
    """An outside ERP that implements the hub's ERP interface (docs/provider-interfaces/
    erp.openapi.json), registered by the tenant: connecting a new ERP needs no code."""

    key = models.SlugField(max_length=40, help_text="Names the integration type: erp/<key>.")
    display_name = models.CharField(max_length=200)
    base_url = models.URLField(max_length=300)
    auth_ref = models.CharField(max_length=512, help_text="Secret ref of the API key sent as a bearer token.")
    capabilities = models.JSONField(default=list, blank=True,
                                    help_text='Record kinds it accepts: ["invoices", "payments", "members"]')
    docs_url = models.URLField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="sync_third_party_tenant_key_uniq")]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.key})"


class ErpIntegration(Integration):
    """A connection to a registered third-party ERP."""

    class Provider(models.TextChoices):
        HUB_ERP_API = "hub_erp_api", "ERP (hub ERP interface)"

    third_party = models.ForeignKey(ThirdPartyProvider, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="integrations")
    company_code = models.CharField(max_length=50, blank=True)
    chart_of_accounts_mapping = models.JSONField(default=dict, blank=True)
