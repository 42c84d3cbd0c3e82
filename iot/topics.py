"""MQTT topics of court devices: what the ingester subscribes to and how a topic is read. Pure.

Device topics (QoS 1), as the club brief names them:

    court/<court code>/checkin          a check-in terminal at the court
    court/<court code>/checkout         a check-out terminal at the court
    court/<court code>/button/pressed   the highlight button at the court
    tablet/<device id>/status           a tablet's heartbeat
    rfid/<device id>/scan               an RFID reader's card scan

Answers go to `rfid/<device id>/response` and `court/<court code>/<checkin|checkout>/response`.

How a topic names its tenant (settings.MQTT_TENANT_PREFIXES):
- "slug": every topic starts with the tenant's slug, `alpha/rfid/r-12/scan`. Brokers with ACLs
  per tenant give each tenant's devices `<slug>/#` and nothing else, so a device can never
  speak for another tenant.
- "registry": bare topics; the tenant is the one whose device registry knows the device id
  (or, for court topics without a `device_id` in the payload, the court code). An id known to
  two tenants is ambiguous and refused. Fine for single-tenant installations.
- "both" (default): both forms are subscribed; a prefixed topic is read as "slug".
Answers mirror the form of the message they answer (a prefixed scan gets a prefixed response).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class MessageKind(StrEnum):
    COURT_CHECKIN = "court_checkin"
    COURT_CHECKOUT = "court_checkout"
    BUTTON_PRESSED = "button_pressed"
    TABLET_STATUS = "tablet_status"
    RFID_SCAN = "rfid_scan"


class TenantPrefixes(StrEnum):
    SLUG = "slug"
    REGISTRY = "registry"
    BOTH = "both"


# (levels with "+" for the subject id) -> kind; the subject sits where the "+" is.
_PATTERNS: dict[tuple[str, ...], MessageKind] = {
    ("court", "+", "checkin"): MessageKind.COURT_CHECKIN,
    ("court", "+", "checkout"): MessageKind.COURT_CHECKOUT,
    ("court", "+", "button", "pressed"): MessageKind.BUTTON_PRESSED,
    ("tablet", "+", "status"): MessageKind.TABLET_STATUS,
    ("rfid", "+", "scan"): MessageKind.RFID_SCAN,
}
_REPLY_SUFFIX: dict[MessageKind, tuple[str, ...]] = {
    MessageKind.RFID_SCAN: ("response",),
    MessageKind.COURT_CHECKIN: ("checkin", "response"),
    MessageKind.COURT_CHECKOUT: ("checkout", "response"),
}
# Ids as they appear in topics: no MQTT wildcards, no separators, nothing a log would mangle.
_SUBJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,63}")


@dataclass(frozen=True)
class ParsedTopic:
    kind: MessageKind
    subject_id: str  # the court code for court topics, the device id otherwise
    tenant_slug: str | None  # the prefix, when the topic has one

    @property
    def is_court_topic(self) -> bool:
        return self.kind in (MessageKind.COURT_CHECKIN, MessageKind.COURT_CHECKOUT, MessageKind.BUTTON_PRESSED)

    def reply_topic(self) -> str | None:
        """Where the device waits for its answer, or None for messages nobody answers."""
        suffix = _REPLY_SUFFIX.get(self.kind)
        if suffix is None:
            return None
        root = "rfid" if self.kind is MessageKind.RFID_SCAN else "court"
        levels = ([self.tenant_slug] if self.tenant_slug else []) + [root, self.subject_id, *suffix]
        return "/".join(levels)


class TopicNotRecognised(ValueError):
    pass


def parse_topic(topic: str, *, prefixes: TenantPrefixes = TenantPrefixes.BOTH) -> ParsedTopic:
    """Read a device topic; raises TopicNotRecognised for anything else."""
    levels = tuple(topic.split("/"))
    candidates = []
    if prefixes in (TenantPrefixes.REGISTRY, TenantPrefixes.BOTH):
        candidates.append((None, levels))
    if prefixes in (TenantPrefixes.SLUG, TenantPrefixes.BOTH) and len(levels) > 1:
        candidates.append((levels[0], levels[1:]))
    for slug, rest in candidates:
        kind = _match(rest)
        if kind is None:
            continue
        if slug is not None and not _SLUG.fullmatch(slug):
            raise TopicNotRecognised(f"'{slug}' is not a tenant slug")
        subject = rest[1]
        if not _SUBJECT.fullmatch(subject):
            raise TopicNotRecognised("the id in the topic must be 1-100 letters, digits or . _ : -")
        return ParsedTopic(kind=kind, subject_id=subject, tenant_slug=slug)
    raise TopicNotRecognised("not a court device topic")


def _match(levels: tuple[str, ...]) -> MessageKind | None:
    for pattern, kind in _PATTERNS.items():
        if len(pattern) == len(levels) and all(
                p == "+" or p == level for p, level in zip(pattern, levels, strict=True)):
            return kind
    return None


def subscription_filters(*, prefixes: TenantPrefixes, shared_group: str = "") -> list[str]:
    """The topic filters the ingester subscribes to, as shared subscriptions when a group is set
    (MQTT 5: the broker hands each message to one member of the group)."""
    if shared_group and not _SLUG.fullmatch(shared_group):
        raise ValueError("the shared subscription group must be letters, digits, - or _")
    bare = ["/".join(pattern) for pattern in _PATTERNS]
    filters = []
    if prefixes in (TenantPrefixes.REGISTRY, TenantPrefixes.BOTH):
        filters += bare
    if prefixes in (TenantPrefixes.SLUG, TenantPrefixes.BOTH):
        filters += [f"+/{topic_filter}" for topic_filter in bare]
    return [f"$share/{shared_group}/{f}" for f in filters] if shared_group else filters
