"""Who acts on an inbound event: handlers keyed by (provider, EventType), and echo checkers.

Apps register at ready():

    @register_handler("stripe", EventType.PAYMENT_SUCCEEDED)
    def payment_succeeded(event: InboundEvent) -> None: ...

A handler receives the stored `webhooks.models.InboundEvent` row (payload, details,
subject_id, tenant_id, integration_id), runs inside the transaction that marks the event
handled, and raises to have the attempt retried. Handlers must only move state forward:
providers deliver late and out of order.

Echo checkers answer "did our own write cause this event?" (a sync push coming back);
an event any checker claims is marked `ignored` and no handler runs.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from adapters.inbound import EventType

if TYPE_CHECKING:
    from webhooks.models import InboundEvent

Handler = Callable[["InboundEvent"], None]
EchoChecker = Callable[["InboundEvent"], bool]

_handlers: dict[tuple[str, str], list[Handler]] = {}
_echo_checkers: list[EchoChecker] = []


def register_handler(provider: str, event_type: EventType | str) -> Callable[[Handler], Handler]:
    def decorator(handler: Handler) -> Handler:
        registered = _handlers.setdefault((provider, str(event_type)), [])
        if handler not in registered:  # ready() may run twice in one process (tests, reloads)
            registered.append(handler)
        return handler

    return decorator


def unregister_handler(provider: str, event_type: EventType | str, handler: Handler) -> None:
    registered = _handlers.get((provider, str(event_type)), [])
    if handler in registered:
        registered.remove(handler)


def handlers_for(provider: str, event_type: EventType | str) -> list[Handler]:
    return list(_handlers.get((provider, str(event_type)), ()))


def register_echo_checker(checker: EchoChecker) -> EchoChecker:
    if checker not in _echo_checkers:
        _echo_checkers.append(checker)
    return checker


def unregister_echo_checker(checker: EchoChecker) -> None:
    if checker in _echo_checkers:
        _echo_checkers.remove(checker)


def is_echo(event: "InboundEvent") -> bool:
    """True when a registered checker recognises the event as caused by the hub's own write."""
    return any(checker(event) for checker in list(_echo_checkers))
