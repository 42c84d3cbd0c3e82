"""Mapping: Google Maps and Mapbox, with several labelled API keys per integration, each with
its own domain allowlist and monthly usage budget. Validation geocodes a fixed address with
every key; integrations/services/mapping.py makes the calls that count against the budgets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from rest_framework import serializers

from adapters.errors import ProviderError
from adapters.providers import google_maps as google_maps_adapter
from adapters.providers import mapbox as mapbox_adapter
from adapters.types import ValidationResult
from config.api import StrictSerializer
from integrations.families.registry import FamilySpec, ProviderBinding, register
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from integrations.models import MappingIntegration

MAX_KEYS = 20
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def allowlist_entry_problem(entry: str) -> str | None:
    """A host name such as maps.example.org, or *.example.org for its subdomains; nothing else."""
    if "://" in entry or "/" in entry:
        return f"'{entry}': a host name only, without scheme or path"
    if ":" in entry:
        return f"'{entry}': a host name only, without port"
    if not entry.isascii():
        return f"'{entry}': use the ASCII (xn--) form of an internationalised name"
    labels = entry.split(".")
    wildcard = labels[0] == "*"
    if wildcard:
        labels = labels[1:]
        if len(labels) < 2:
            return f"'{entry}': a wildcard needs a domain of at least two labels after '*.'"
    if "*" in "".join(labels):
        return f"'{entry}': '*' is allowed only as the whole leading label, as in *.example.org"
    if len(entry) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        return f"'{entry}': not a valid host name"
    return None


def host_allowed(host: str, allowlist: list[str]) -> bool:
    """An empty allowlist admits every caller; `*.example.org` admits subdomains, not the apex."""
    if not allowlist:
        return True
    host = host.strip().lower().rstrip(".")
    for entry in allowlist:
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry:
            return True
    return False


class MappingKeyInput(StrictSerializer):
    label = serializers.CharField(max_length=50)
    key_ref = serializers.CharField(max_length=512)  # replaced by a SecretRefField in get_fields
    domain_allowlist = serializers.ListField(
        child=serializers.CharField(max_length=253), max_length=100, required=False, default=list
    )
    usage_budget = serializers.IntegerField(
        min_value=1,
        max_value=2_000_000_000,
        help_text="Calls allowed per calendar month (UTC) with this key.",
    )

    def get_fields(self):
        from integrations.secrets.fields import SecretRefField

        fields = super().get_fields()
        fields["key_ref"] = SecretRefField()
        return fields

    def validate_label(self, value: str) -> str:
        if not _LABEL.match(value):
            raise serializers.ValidationError(
                "letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    def validate_domain_allowlist(self, value: list[str]) -> list[str]:
        normalised = [entry.strip().lower().rstrip(".") for entry in value]
        problems = [problem for entry in normalised if (problem := allowlist_entry_problem(entry))]
        if problems:
            raise serializers.ValidationError(problems)
        return list(dict.fromkeys(normalised))


class MappingInput(IntegrationInputSerializer):
    allowed_capabilities = ("geocoding", "directions", "static_maps", "places_search")

    api_keys = serializers.ListField(
        child=MappingKeyInput(), min_length=1, max_length=MAX_KEYS, required=False
    )

    class Meta:
        model = MappingIntegration
        fields = BASE_INPUT_FIELDS + [
            "api_keys",
            "geocoding",
            "directions",
            "static_maps",
            "places_search",
        ]

    def validate_api_keys(self, value: list[dict]) -> list[dict]:
        labels = [key["label"] for key in value]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise serializers.ValidationError(
                f"labels must be unique; repeated: {', '.join(duplicates)}"
            )
        return [dict(key) for key in value]

    def validate(self, attrs):
        if self.instance is None and not attrs.get("api_keys"):
            raise serializers.ValidationError({"api_keys": ["at least one API key is required"]})
        return attrs


@dataclass(frozen=True)
class MappingKeys:
    """Each labelled key's adapter config; the binding's config."""

    adapter: ModuleType
    configs: dict[str, Any]


def adapter_config(adapter: ModuleType, secret: str):
    return (
        adapter.Config(api_key=secret)
        if adapter is google_maps_adapter
        else adapter.Config(access_token=secret)
    )


def _keys_config(adapter: ModuleType):
    def build(integration: MappingIntegration, resolve) -> MappingKeys:
        return MappingKeys(
            adapter=adapter,
            configs={
                key["label"]: adapter_config(adapter, resolve(key["key_ref"]))
                for key in integration.api_keys
            },
        )

    return build


def _validate_every_key(keys: MappingKeys) -> ValidationResult:
    if not keys.configs:
        raise ProviderError(
            "the integration has no API keys",
            provider=keys.adapter.key,
            retryable=False,
            code="no_keys",
        )
    messages = {}
    for label, config in keys.configs.items():
        try:
            messages[label] = keys.adapter.validate(config).message
        except ProviderError as exc:
            # The same error, naming the key that failed so the tenant knows which to fix.
            exc.message = f"key '{label}': {exc.message}"
            exc.args = (exc.message,)
            raise
    labels = ", ".join(f"'{label}'" for label in messages)
    return ValidationResult(
        message=f"{len(messages)} key(s) {labels}: {next(iter(messages.values()))}",
        details={"keys": list(messages)},
    )


def _binding(adapter: ModuleType) -> ProviderBinding:
    return ProviderBinding(
        key=adapter.key,
        display_name=adapter.display_name,
        build_config=_keys_config(adapter),
        validate=_validate_every_key,
    )


SPEC = register(
    FamilySpec(
        slug="mapping",
        label="Mapping",
        model=MappingIntegration,
        input_serializer=MappingInput,
        providers={
            adapter.key: _binding(adapter) for adapter in (google_maps_adapter, mapbox_adapter)
        },
    )
)
