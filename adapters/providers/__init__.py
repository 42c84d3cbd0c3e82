"""Provider modules. `WEBHOOK_PROVIDERS` maps a provider key to what verifies and parses its
inbound webhooks (`adapters.inbound.WebhookProvider`): one line per scheme."""

from __future__ import annotations

from adapters.inbound import WebhookProvider
from adapters.providers import (
    elks46,
    fortnox,
    generic,
    mailgun,
    mux,
    sendgrid,
    stripe_webhooks,
    twilio,
    whatsapp,
    xero,
    ziggy,
)

WEBHOOK_PROVIDERS: dict[str, WebhookProvider] = {
    stripe_webhooks.key: stripe_webhooks,
    sendgrid.key: sendgrid,
    mailgun.key: mailgun,
    twilio.key: twilio,
    elks46.key: elks46,
    whatsapp.key: whatsapp,
    mux.key: mux,
    xero.key: xero,
    fortnox.key: fortnox,  # change notifications relayed from Fortnox's WebSocket topics
    ziggy.key: ziggy,
    generic.key: generic,
    generic.HubSha1.key: generic.HubSha1,
}
