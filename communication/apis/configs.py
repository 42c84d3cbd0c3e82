"""Config CRUD and lifecycle for the six providers at /api/v1/communication/<slug>/configs/:
the integrations family views, served with each provider's ConfigSpec."""

from __future__ import annotations

from communication.specs import config_spec
from integrations.apis.families import (
    IntegrationActionApi,
    IntegrationDetailApi,
    IntegrationListCreateApi,
    IntegrationTransitionsApi,
    IntegrationUsageApi,
    IntegrationValidateApi,
)
from integrations.models import Integration


class ConfigApiMixin:
    scope_area = "communication"
    provider_slug: str = ""

    @property
    def spec(self):
        return config_spec(self.provider_slug)


class ConfigListCreateApi(ConfigApiMixin, IntegrationListCreateApi):
    def perform_create(self, validated_data: dict) -> Integration:
        return self.spec.create(tenant=self.tenant, data=validated_data, actor=self.actor)


class ConfigDetailApi(ConfigApiMixin, IntegrationDetailApi):
    pass


class ConfigActionApi(ConfigApiMixin, IntegrationActionApi):
    pass


class ConfigValidateApi(ConfigApiMixin, IntegrationValidateApi):
    pass


class ConfigUsageApi(ConfigApiMixin, IntegrationUsageApi):
    """Usage of the provider calls; for an email config also the engagement of what it sent
    (opens, clicks, bounces, open rate = opened / delivered)."""

    def get(self, request, pk):
        from communication.services.tracking import email_engagement

        response = super().get(request, pk)
        if self.provider_slug in ("sendgrid", "mailgun"):
            days = int(response.data["days"])
            response.data["engagement"] = email_engagement(
                tenant=self.tenant, config=self.get_integration(pk), days=days
            )
        return response


class ConfigTransitionsApi(ConfigApiMixin, IntegrationTransitionsApi):
    pass
