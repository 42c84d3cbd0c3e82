"""The family registry: slug -> model, input serializer and provider bindings.

Adding a family is one module in this package plus one line in FAMILY_MODULES.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from integrations.errors import ApplicationError
from integrations.models import Integration

Resolver = Callable[[str], str]  # a credential ref -> its secret value, resolved at call time


@dataclass(frozen=True)
class ProviderBinding:
    """How one provider of a family is called: its adapter config and pre-flight call."""

    key: str
    display_name: str
    build_config: Callable[[Any, Resolver], Any]
    validate: Callable[[Any], Any]
    required_refs: tuple[str, ...] = ()
    sandbox_check: Callable[[Any, Any], str | None] | None = None  # (integration, config) -> problem or None
    oauth: bool = False
    receives_webhooks: bool = False


@dataclass(frozen=True)
class FamilySpec:
    slug: str
    model: type[Integration]
    input_serializer: type
    providers: dict[str, ProviderBinding] = field(default_factory=dict)
    label: str = ""

    def binding(self, provider: str) -> ProviderBinding:
        try:
            return self.providers[provider]
        except KeyError:
            raise ApplicationError(f"provider '{provider}' is not available for {self.slug}",
                                   code="unknown_provider") from None


FAMILY_MODULES = [
    "integrations.families.payment_gateways",
    "integrations.families.mapping",
    "integrations.families.wada_adams",
    "integrations.families.insurance",
    "integrations.families.gov_registries",
    "integrations.families.accounting",
    "integrations.families.calendars",
    "integrations.families.social_media",
    "integrations.families.streaming",
]

_registry: dict[str, FamilySpec] = {}
# Families another app owns and mounts under its own routes (communication's provider
# configs): found by family_spec() for validation, payments-style sends and webhook URLs,
# but not mounted under /api/v1/integrations/.
_app_families: dict[str, FamilySpec] = {}


def register(spec: FamilySpec) -> FamilySpec:
    _registry[spec.slug] = spec
    return spec


def register_app_family(spec: FamilySpec) -> FamilySpec:
    _app_families[spec.slug] = spec
    return spec


def find_family(slug: str) -> FamilySpec | None:
    return families().get(slug) or _app_families.get(slug)


def families() -> dict[str, FamilySpec]:
    # Every time, not only while the registry is empty: importing one family module directly
    # (a service that needs its helpers) registers that family alone. Re-imports are dict lookups.
    for module in FAMILY_MODULES:
        importlib.import_module(module)
    return _registry


def family_spec(slug: str) -> FamilySpec:
    spec = find_family(slug)
    if spec is None:
        raise ApplicationError(f"unknown integration family '{slug}'", status=404, code="not_found")
    return spec
