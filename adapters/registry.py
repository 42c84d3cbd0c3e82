"""Provider modules by key: one line per provider."""
from __future__ import annotations

from types import ModuleType

from adapters.providers import stripe
from adapters.providers import fortnox, quickbooks, tripletex, uniconomy, visma, visma_net, xero, xledger
from adapters.providers import facebook, google_calendar, ical, instagram, mux, outlook, twitch, x, youtube

PROVIDERS: dict[str, ModuleType] = {
    stripe.key: stripe,
    fortnox.key: fortnox,
    xero.key: xero,
    quickbooks.key: quickbooks,
    visma.key: visma,
    visma_net.key: visma_net,
    uniconomy.key: uniconomy,
    tripletex.key: tripletex,
    xledger.key: xledger,
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
