"""`telemetry_ingest`: one MQTT message in, its effects committed, its answers out.

The MQTT client (iot/mqtt.py) calls it for every message and then publishes `replies` and
acknowledges the message, at once for event messages (their effects are committed when this
returns) or when `committed` completes for heartbeats (coalesced into a later write). Nothing
here knows about the MQTT connection, so tests and the benchmark call it directly too.

Unreadable topics and payloads, and devices, courts or tenant prefixes the registry does not
know, are counted, logged and answered (a reader always hears back), never raised: a message
that can never succeed must not come back forever. Database errors do raise, so the message
stays unacknowledged and is handled again.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

from iot import metrics
from iot.models import Device
from iot.payloads import MalformedMessage, read_court_access, read_press, read_scan, read_status
from iot.services.access import MessageKey, ReaderAnswer, member_check_in, member_check_out
from iot.services.directory import (
    Lookup,
    court_anywhere,
    court_in_tenant,
    court_row,
    device_anywhere,
    device_in_tenant,
    device_row,
    tenant_id_for_slug,
)
from iot.services.heartbeats import device_seen
from iot.services.highlights import button_press
from iot.topics import MessageKind, ParsedTopic, TenantPrefixes, TopicNotRecognised, parse_topic

logger = logging.getLogger(__name__)
# A device clock this far off is not trusted for when something happened; receipt time is used.
_CLOCK_TRUST = timedelta(hours=1)
_UNREADABLE = ReaderAnswer(status="denied", message="Scan could not be read", color="red")
_UNKNOWN_DEVICE = ReaderAnswer(status="denied", message="Device not registered", color="red")
_DEFAULT_TERMINAL_TIMEOUT_MS = 3000


@dataclass(frozen=True)
class Reply:
    topic: str
    payload: dict


@dataclass
class IngestResult:
    kind: str
    outcome: str
    replies: list[Reply] = field(default_factory=list)
    # Heartbeats: completes when the coalesced write holding this message has committed.
    committed: Future | None = None


def telemetry_ingest(*, topic: str, payload: bytes, received_at: datetime) -> IngestResult:
    started = time.perf_counter()
    try:
        parsed = parse_topic(topic, prefixes=TenantPrefixes(settings.MQTT_TENANT_PREFIXES))
    except TopicNotRecognised as exc:
        metrics.mqtt_malformed_total.labels("unknown").inc()
        metrics.mqtt_messages_total.labels("unknown", "malformed").inc()
        logger.warning("MQTT message on an unrecognised topic", extra={"topic": topic[:300], "reason": str(exc)})
        return IngestResult(kind="unknown", outcome="malformed")
    kind = parsed.kind.value
    try:
        result = _HANDLERS[parsed.kind](parsed, payload, received_at)
    except MalformedMessage as exc:
        metrics.mqtt_malformed_total.labels(kind).inc()
        logger.warning("malformed MQTT payload", extra={"topic": topic[:300], "reason": exc.reason})
        result = IngestResult(kind=kind, outcome="malformed", replies=_answer(parsed, _UNREADABLE))
    except Lookup as exc:
        metrics.mqtt_unknown_devices_total.labels(kind).inc()
        logger.warning("MQTT message from an unknown device", extra={"topic": topic[:300], "reason": str(exc)})
        # A prefix that is none of our tenants may be another system's on the same broker: its
        # devices are not ours to answer.
        replies = [] if exc.tenant_unknown else _answer(parsed, _UNKNOWN_DEVICE)
        result = IngestResult(kind=kind, outcome=f"{exc.reason}_device", replies=replies)
    metrics.mqtt_messages_total.labels(kind, result.outcome).inc()
    if result.committed is None:
        metrics.mqtt_handle_seconds.labels(kind).observe(time.perf_counter() - started)
    return result


def _answer(parsed: ParsedTopic, answer: ReaderAnswer | None) -> list[Reply]:
    reply_topic = parsed.reply_topic()
    return [Reply(reply_topic, answer.payload())] if reply_topic and answer else []


def _when(sent_at: datetime | None, received_at: datetime) -> datetime:
    if sent_at is None or abs(received_at - sent_at) > _CLOCK_TRUST:
        return received_at
    return min(sent_at, received_at)  # a clock running ahead must not put events in the future


def _device(parsed: ParsedTopic, external_id: str):
    if parsed.tenant_slug:
        return device_in_tenant(tenant_id_for_slug(parsed.tenant_slug), external_id)
    return device_anywhere(external_id)


def _court_and_device(parsed: ParsedTopic, device_id: str):
    device = _device(parsed, device_id) if device_id else None
    if device is not None:
        court = court_in_tenant(device.tenant_id, parsed.subject_id)
    elif parsed.tenant_slug:
        court = court_in_tenant(tenant_id_for_slug(parsed.tenant_slug), parsed.subject_id)
    else:
        court = court_anywhere(parsed.subject_id)
    return court, device


def _budget_seconds(device: Device | None) -> float:
    timeout_ms = device.response_timeout_ms if device else _DEFAULT_TERMINAL_TIMEOUT_MS
    return (timeout_ms - settings.IOT_READER_RESPONSE_MARGIN_MS) / 1000


def _rfid_scan(parsed: ParsedTopic, payload: bytes, received_at: datetime) -> IngestResult:
    scan = read_scan(payload)
    ref = _device(parsed, parsed.subject_id)
    device_seen(device_pk=ref.pk, seen_at=_when(scan.sent_at, received_at))
    device = device_row(ref.pk)
    outcome = member_check_in(
        tenant_id=device.tenant_id, court=device.court, device=device, card_id=scan.card_id,
        key=MessageKey(device_key=device.external_id, message_id=scan.message_id, topic=_bare(parsed)),
        received_at=received_at, budget_seconds=_budget_seconds(device), source="rfid")
    return IngestResult(kind=parsed.kind.value, outcome=outcome.outcome, replies=_answer(parsed, outcome.answer))


def _court_access(parsed: ParsedTopic, payload: bytes, received_at: datetime) -> IngestResult:
    message = read_court_access(payload)
    court_ref, device_ref = _court_and_device(parsed, message.device_id)
    device = None
    if device_ref is not None:
        device_seen(device_pk=device_ref.pk, seen_at=_when(message.sent_at, received_at))
        device = device_row(device_ref.pk)
    court = court_row(court_ref.pk)
    key = MessageKey(device_key=device.external_id if device else f"court:{court.code}",
                     message_id=message.message_id, topic=_bare(parsed))
    action = member_check_in if parsed.kind is MessageKind.COURT_CHECKIN else member_check_out
    outcome = action(tenant_id=court.tenant_id, court=court, device=device, key=key, received_at=received_at,
                     card_id=message.card_id, member_external_id=message.member_external_id,
                     budget_seconds=_budget_seconds(device), source="terminal")
    return IngestResult(kind=parsed.kind.value, outcome=outcome.outcome, replies=_answer(parsed, outcome.answer))


def _button_pressed(parsed: ParsedTopic, payload: bytes, received_at: datetime) -> IngestResult:
    press = read_press(payload)
    court_ref, device_ref = _court_and_device(parsed, press.device_id)
    pressed_at = _when(press.sent_at, received_at)
    device = None
    if device_ref is not None:
        device_seen(device_pk=device_ref.pk, seen_at=pressed_at)
        device = device_row(device_ref.pk)
    court = court_row(court_ref.pk)
    key = MessageKey(device_key=device.external_id if device else f"court:{court.code}",
                     message_id=press.message_id, topic=_bare(parsed))
    outcome = button_press(tenant_id=court.tenant_id, court=court, device=device, key=key, pressed_at=pressed_at)
    return IngestResult(kind=parsed.kind.value, outcome=outcome)


def _tablet_status(parsed: ParsedTopic, payload: bytes, received_at: datetime) -> IngestResult:
    status = read_status(payload)
    ref = _device(parsed, parsed.subject_id)
    committed = device_seen(device_pk=ref.pk, seen_at=_when(status.sent_at, received_at),
                            battery_percent=status.battery_percent, firmware_version=status.firmware_version)
    return IngestResult(kind=parsed.kind.value, outcome="buffered", committed=committed)


def _bare(parsed: ParsedTopic) -> str:
    """The topic without its tenant prefix: what the ledger records (the row has the tenant)."""
    reply = {MessageKind.RFID_SCAN: "rfid/{}/scan", MessageKind.COURT_CHECKIN: "court/{}/checkin",
             MessageKind.COURT_CHECKOUT: "court/{}/checkout", MessageKind.BUTTON_PRESSED: "court/{}/button/pressed",
             MessageKind.TABLET_STATUS: "tablet/{}/status"}[parsed.kind]
    return reply.format(parsed.subject_id)


_HANDLERS = {
    MessageKind.RFID_SCAN: _rfid_scan,
    MessageKind.COURT_CHECKIN: _court_access,
    MessageKind.COURT_CHECKOUT: _court_access,
    MessageKind.BUTTON_PRESSED: _button_pressed,
    MessageKind.TABLET_STATUS: _tablet_status,
}
