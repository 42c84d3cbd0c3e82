"""Provider modules by key: one line per provider."""
from __future__ import annotations

from types import ModuleType

from adapters.providers import stripe
from adapters.providers import adams, google_maps, hub_insurance_api, hub_registry_api, mapbox
from adapters.providers import ideal, mercado_pago, pagseguro, paypal, swish
from adapters.providers import fortnox, quickbooks, tripletex, uniconomy, visma, visma_net, xero, xledger
from adapters.providers import facebook, google_calendar, ical, instagram, mux, outlook, twitch, x, youtube
from adapters.providers import consio, cornerstone, dynamics365, hub_erp_api
from adapters.providers import ziggy

PROVIDERS: dict[str, ModuleType] = {
    stripe.key: stripe,
    google_maps.key: google_maps,
    mapbox.key: mapbox,
    adams.key: adams,
    hub_insurance_api.key: hub_insurance_api,
    hub_registry_api.key: hub_registry_api,
    paypal.key: paypal,
    swish.key: swish,
    ideal.key: ideal,
    mercado_pago.key: mercado_pago,
    pagseguro.key: pagseguro,
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
    dynamics365.key: dynamics365,
    cornerstone.key: cornerstone,
    consio.key: consio,
    hub_erp_api.key: hub_erp_api,
    ziggy.key: ziggy,
}


def provider_module(key: str) -> ModuleType:
    try:
        return PROVIDERS[key]
    except KeyError:
        raise LookupError(f"no adapter for provider '{key}'") from None
