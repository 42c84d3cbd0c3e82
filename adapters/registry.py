"""Provider modules by key: one line per provider."""
from __future__ import annotations

from types import ModuleType

from adapters.providers import stripe

PROVIDERS: dict[str, ModuleType] = {
    stripe.key: stripe,
}


def provider_module(key: str) -> ModuleType:
    try:
        return PROVIDERS[key]
    except KeyError:
        raise LookupError(f"no adapter for provider '{key}'") from None
