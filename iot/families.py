"""The access-control family: a tenant's Ziggy config on the shared integration base.

Registered as an app family (found by `family_spec("access-control")` for validation, usage and
webhook URLs) and mounted under /api/v1/iot/ziggy/configs/ by iot/urls.py with the generic
family views, so lifecycle, refs, validation and usage behave as for every other integration.
"""
from __future__ import annotations

import re

from rest_framework import serializers

from adapters.providers import ziggy
from integrations.errors import ApplicationError
from integrations.families.provider_interface import ApiBaseUrlField, api_base_url_problem
from integrations.families.registry import FamilySpec, ProviderBinding, register_app_family
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from iot.models import ZiggyIntegration

FAMILY = "access-control"
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")


class ZiggyInput(IntegrationInputSerializer):
    allowed_capabilities = ("check_in", "check_out", "consumption")

    api_base_url = ApiBaseUrlField(required=False, allow_blank=True, max_length=300,
                                   help_text="The club's Ziggy API host (https).")
    timeout_seconds = serializers.FloatField(required=False, min_value=0.5, max_value=30.0)

    class Meta:
        model = ZiggyIntegration
        fields = BASE_INPUT_FIELDS + ["client_id", "api_base_url", "timeout_seconds", "api_key_ref",
                                      "webhook_signing_key_ref"]

    def validate_client_id(self, value: str) -> str:
        if not _CLIENT_ID.fullmatch(value):
            raise serializers.ValidationError("letters, digits and . _ : - only, at most 100 characters")
        return value


def _config(integration: ZiggyIntegration, resolve) -> ziggy.Config:
    config = ziggy.Config.for_club(api_key=resolve(integration.api_key_ref), client_id=integration.client_id,
                                   club_base_url=integration.api_base_url,
                                   timeout_seconds=integration.timeout_seconds)
    if not config.base_url:
        raise ApplicationError("api_base_url is required: Ziggy gives each club its own API host",
                               code="incomplete")
    if integration.api_base_url == config.base_url and (problem := api_base_url_problem(config.base_url)):
        # Checked again at call time: DEBUG or the localhost allowance may have changed since.
        raise ApplicationError(f"api_base_url {problem}", code="invalid")
    return config


def ziggy_config(integration: ZiggyIntegration, resolve, *, timeout_seconds: float | None = None) -> ziggy.Config:
    """The adapter config, optionally with a tighter timeout (a reader waiting for its answer)."""
    config = _config(integration, resolve)
    if timeout_seconds is None or timeout_seconds >= config.timeout_seconds:
        return config
    return ziggy.Config(api_key=config.api_key, client_id=config.client_id, base_url=config.base_url,
                        timeout_seconds=timeout_seconds)


SPEC = register_app_family(FamilySpec(
    slug=FAMILY,
    label="Access control",
    model=ZiggyIntegration,
    input_serializer=ZiggyInput,
    providers={
        "ziggy": ProviderBinding(key=ziggy.key, display_name=ziggy.display_name, build_config=_config,
                                 validate=ziggy.validate, required_refs=("api_key_ref",),
                                 receives_webhooks=True),
    },
))
