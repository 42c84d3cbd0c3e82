"""The integration families beyond payment gateways. Field names are the API's."""
from __future__ import annotations

from django.db import models

from .base import Integration


class SyncDirection(models.TextChoices):
    PUSH = "push", "Push"
    PULL = "pull", "Pull"
    BIDIRECTIONAL = "bidirectional", "Bidirectional"


class OAuthCredentials(models.Model):
    """OAuth2 client and token refs; the tokens themselves live in the secret store."""

    oauth_client_id = models.CharField(max_length=300, blank=True)
    oauth_client_secret_ref = models.CharField(max_length=512, blank=True)
    oauth_refresh_token_ref = models.CharField(max_length=512, blank=True)
    oauth_access_token_ref = models.CharField(max_length=512, blank=True)
    oauth_token_expires_at = models.DateTimeField(null=True, blank=True)
    oauth_scopes = models.JSONField(default=list, blank=True)
    oauth_connected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class CalendarIntegration(OAuthCredentials, Integration):
    class Provider(models.TextChoices):
        GOOGLE = "google", "Google Calendar"
        OUTLOOK = "outlook", "Outlook"
        ICAL = "ical", "iCalendar feed"

    api_key_ref = models.CharField(max_length=512, blank=True)
    calendar_id = models.CharField(max_length=300, blank=True)
    ical_url = models.URLField(max_length=1000, blank=True)
    sync_direction = models.CharField(max_length=16, choices=SyncDirection.choices, default=SyncDirection.PULL)
    event_type_filters = models.JSONField(default=list, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    sync_cursor = models.CharField(max_length=1000, blank=True)
    last_sync_error = models.CharField(max_length=1000, blank=True)


class SocialMediaIntegration(OAuthCredentials, Integration):
    class Provider(models.TextChoices):
        FACEBOOK = "facebook", "Facebook"
        INSTAGRAM = "instagram", "Instagram"
        X = "x", "X"

    accounts = models.JSONField(default=list, blank=True,
                                help_text='[{"account_id": ..., "name": ..., "access_token_ref": ...}]')
    auto_publish_event_types = models.JSONField(default=list, blank=True)


class StreamingIntegration(OAuthCredentials, Integration):
    class Provider(models.TextChoices):
        YOUTUBE = "youtube", "YouTube"
        TWITCH = "twitch", "Twitch"
        MUX = "mux", "Mux"

    api_key_ref = models.CharField(max_length=512, blank=True)
    api_secret_ref = models.CharField(max_length=512, blank=True)
    stream_key_ref = models.CharField(max_length=512, blank=True)
    webhook_signing_key_ref = models.CharField(max_length=512, blank=True)
    channel_id = models.CharField(max_length=200, blank=True)
    rtmp_url = models.CharField(max_length=500, blank=True)
    dvr_enabled = models.BooleanField(default=False)
    chat_enabled = models.BooleanField(default=True)
    auto_record = models.BooleanField(default=False)


class MappingIntegration(Integration):
    class Provider(models.TextChoices):
        GOOGLE_MAPS = "google_maps", "Google Maps"
        MAPBOX = "mapbox", "Mapbox"

    api_keys = models.JSONField(default=list, blank=True,
                                help_text='[{"label": ..., "key_ref": ..., "domain_allowlist": [...], '
                                          '"usage_budget": 1000}]')
    geocoding = models.BooleanField(default=True)
    directions = models.BooleanField(default=False)
    static_maps = models.BooleanField(default=False)
    places_search = models.BooleanField(default=False)


class ProviderInterfaceEndpoint(models.Model):
    """Families whose providers implement the hub's own published REST interface."""

    api_base_url = models.URLField(max_length=500, blank=True)

    class Meta:
        abstract = True


class WadaAdamsIntegration(ProviderInterfaceEndpoint, Integration):
    class Provider(models.TextChoices):
        ADAMS = "adams", "WADA ADAMS"

    api_key_ref = models.CharField(max_length=512, blank=True)
    signing_key_ref = models.CharField(max_length=512, blank=True)
    organization_code = models.CharField(max_length=50, blank=True)
    sport_codes = models.JSONField(default=list, blank=True)
    athlete_pool_ids = models.JSONField(default=list, blank=True)
    whereabouts_sync = models.BooleanField(default=False)
    tue_management = models.BooleanField(default=False)
    test_result_tracking = models.BooleanField(default=False)
    notification_relay = models.BooleanField(default=False)


class InsuranceIntegration(OAuthCredentials, ProviderInterfaceEndpoint, Integration):
    class Provider(models.TextChoices):
        HUB_INSURANCE_API = "hub_insurance_api", "Insurer (hub insurance interface)"

    api_key_ref = models.CharField(max_length=512, blank=True)
    broker_id = models.CharField(max_length=100, blank=True)
    policy_group_ids = models.JSONField(default=list, blank=True)
    coverage_types = models.JSONField(default=list, blank=True)
    auto_enrollment = models.BooleanField(default=False)
    claims_submission = models.BooleanField(default=False)
    premium_calculation = models.BooleanField(default=False)
    certificate_generation = models.BooleanField(default=False)


class GovSportsRegistryIntegration(ProviderInterfaceEndpoint, Integration):
    class Provider(models.TextChoices):
        HUB_REGISTRY_API = "hub_registry_api", "Registry (hub registry interface)"

    country_code = models.CharField(max_length=2, blank=True)
    federation_code = models.CharField(max_length=50, blank=True)
    api_key_ref = models.CharField(max_length=512, blank=True)
    signing_certificate_ref = models.CharField(max_length=512, blank=True)
    membership_reporting = models.BooleanField(default=False)
    grant_applications = models.BooleanField(default=False)
    facility_registration = models.BooleanField(default=False)
    event_reporting = models.BooleanField(default=False)
    compliance_tracking = models.BooleanField(default=False)
    reporting_schedule = models.JSONField(default=dict, blank=True, help_text='{"membership_reporting": "0 3 1 * *"}')


class AccountingIntegration(OAuthCredentials, Integration):
    class Provider(models.TextChoices):
        FORTNOX = "fortnox", "Fortnox"
        XERO = "xero", "Xero"
        QUICKBOOKS = "quickbooks", "QuickBooks Online"
        VISMA = "visma", "Visma eAccounting"
        VISMA_NET = "visma_net", "Visma.net"
        UNICONOMY = "uniconomy", "Uniconomy"
        TRIPLETEX = "tripletex", "Tripletex"
        XLEDGER = "xledger", "Xledger"

    api_key_ref = models.CharField(max_length=512, blank=True)
    webhook_signing_key_ref = models.CharField(max_length=512, blank=True)
    company_id = models.CharField(max_length=100, blank=True)
    fiscal_year = models.PositiveSmallIntegerField(null=True, blank=True)
    fiscal_year_start_month = models.PositiveSmallIntegerField(default=1)
    fiscal_year_start_day = models.PositiveSmallIntegerField(default=1)
    sync_direction = models.CharField(max_length=16, choices=SyncDirection.choices, default=SyncDirection.PUSH)
    chart_of_accounts_mapping = models.JSONField(default=dict, blank=True,
                                                 help_text='{"license_fees": "3010", "tournament_fees": "3020"}')
    invoice_sync = models.BooleanField(default=False)
    payment_sync = models.BooleanField(default=False)
    expense_sync = models.BooleanField(default=False)
    vat_reporting = models.BooleanField(default=False)
