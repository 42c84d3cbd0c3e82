"""Provider modules by key: one line per provider."""
from __future__ import annotations

from types import ModuleType

from adapters.providers import stripe
from adapters.providers import facebook, google_calendar, ical, instagram, mux, outlook, twitch, x, youtube

PROVIDERS: dict[str, ModuleType] = {
    stripe.key: stripe,
    google_calendar.key: google_calendar,
    outlook.key: outlook,
    ical.key: ical,
    facebook.key: facebook,
    instagram.key: instagram,
    x.key: x,
    youtube.key: youtube,
    twitch.key: twitch,
    mux.key: mux,
}


def provider_module(key: str) -> ModuleType:
    try:
        return PROVIDERS[key]
    except KeyError:
        raise LookupError(f"no adapter for provider '{key}'") from None
