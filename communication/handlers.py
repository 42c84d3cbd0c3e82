"""Delivery tracking on the webhooks framework: which provider events move which messages.

Registered when the communication app is ready (`register()`); the webhook view stores each
event once and the framework runs these handlers after commit, retrying failures. The work
is done by communication.services.tracking; a report about a message the hub does not know
(sent before the hub, or by another system on the same account) changes nothing.
"""
from __future__ import annotations

from adapters.inbound import EventType
from communication.services import tracking
from webhooks.handlers import register_handler

EMAIL_EVENTS = (EventType.PROCESSED, EventType.DEFERRED, EventType.DELIVERED, EventType.BOUNCED,
                EventType.DROPPED, EventType.OPENED, EventType.CLICKED, EventType.SPAM_REPORT,
                EventType.UNSUBSCRIBED)
SMS_EVENTS = (EventType.SENT, EventType.DELIVERED, EventType.FAILED)
WHATSAPP_EVENTS = (EventType.SENT, EventType.DELIVERED, EventType.READ, EventType.FAILED)


def email_event(event) -> None:
    tracking.email_event_apply(event)


def sms_event(event) -> None:
    tracking.sms_event_apply(event)


def sms_inbound(event) -> None:
    tracking.sms_inbound_store(event)


def whatsapp_event(event) -> None:
    tracking.whatsapp_event_apply(event)


def whatsapp_inbound(event) -> None:
    tracking.whatsapp_inbound_store(event)


def register() -> None:
    """Idempotent: the registry ignores a handler it already holds for an event type."""
    for provider in ("sendgrid", "mailgun"):
        for event_type in EMAIL_EVENTS:
            register_handler(provider, event_type)(email_event)
    for provider in ("elks46", "twilio"):
        for event_type in SMS_EVENTS:
            register_handler(provider, event_type)(sms_event)
        register_handler(provider, EventType.INBOUND_MESSAGE)(sms_inbound)
    for event_type in WHATSAPP_EVENTS:
        register_handler("whatsapp", event_type)(whatsapp_event)
    register_handler("whatsapp", EventType.INBOUND_MESSAGE)(whatsapp_inbound)
