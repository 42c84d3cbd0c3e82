"""Device message bodies: JSON objects, read into typed values or refused as malformed. Pure.

Every event message (scan, press, check-in, check-out) carries its own identity so a QoS 1
redelivery is recognised: `msg_id` (a string the device makes unique, e.g. a UUID) or `seq`
(a per-device counter that does not repeat within the broker session's lifetime). Heartbeats
carry neither: they are state, re-applying one changes nothing (see services/heartbeats.py).

    rfid/<reader>/scan        {"msg_id": "...", "card_id": "04A2...", "ts": "2026-01-01T10:00:00Z"}
    court/<code>/checkin      {"msg_id": "...", "card_id": "..." | "member_id": "<CRM id>", "device_id": "..."}
    court/<code>/checkout     same as checkin
    court/<code>/button/pressed  {"msg_id": "...", "device_id": "btn-7", "ts": 1767261600.25}
    tablet/<id>/status        {"battery": 87, "firmware": "2.4.1", "ts": "..."}

`ts` is optional everywhere: ISO 8601 with a zone, or Unix seconds (milliseconds above 10^11).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_PAYLOAD_BYTES = 4096
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}")
_CARD = re.compile(r"[A-Za-z0-9:-]{1,64}")
_FIRMWARE = re.compile(r"[A-Za-z0-9._+-]{1,64}")
_MILLISECONDS_ABOVE = 10**11


class MalformedMessage(ValueError):
    """The body cannot be read; `reason` is short and safe to log (never echoes the body)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ScanMessage:
    message_id: str
    card_id: str
    sent_at: datetime | None


@dataclass(frozen=True)
class CourtAccessMessage:
    message_id: str
    card_id: str
    member_external_id: str
    device_id: str
    sent_at: datetime | None


@dataclass(frozen=True)
class PressMessage:
    message_id: str
    device_id: str
    sent_at: datetime | None


@dataclass(frozen=True)
class StatusMessage:
    battery_percent: int | None
    firmware_version: str
    sent_at: datetime | None


def decode_object(payload: bytes) -> dict:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MalformedMessage(f"payload larger than {MAX_PAYLOAD_BYTES} bytes")
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise MalformedMessage("payload is not JSON") from None
    if not isinstance(body, dict):
        raise MalformedMessage("payload is not a JSON object")
    return body


def message_id(body: dict) -> str:
    msg_id = body.get("msg_id")
    if msg_id is not None:
        if not isinstance(msg_id, str) or not _ID.fullmatch(msg_id):
            raise MalformedMessage("msg_id must be 1-100 letters, digits or . _ : @ -")
        return msg_id
    seq = body.get("seq")
    if seq is not None:
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**63:
            raise MalformedMessage("seq must be a non-negative integer")
        return f"seq:{seq}"
    raise MalformedMessage("an event needs msg_id or seq")


def _optional_id(body: dict, name: str, pattern: re.Pattern = _ID) -> str:
    value = body.get(name)
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise MalformedMessage(f"{name} is not a valid id")
    return value


def sent_at(body: dict) -> datetime | None:
    value = body.get("ts")
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > _MILLISECONDS_ABOVE else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise MalformedMessage("ts is out of range") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise MalformedMessage("ts is not an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise MalformedMessage("ts needs a time zone")
        return parsed.astimezone(UTC)
    raise MalformedMessage("ts must be an ISO 8601 string or Unix seconds")


def read_scan(payload: bytes) -> ScanMessage:
    body = decode_object(payload)
    card_id = _optional_id(body, "card_id", _CARD)
    if not card_id:
        raise MalformedMessage("a scan needs card_id")
    return ScanMessage(message_id=message_id(body), card_id=card_id.upper(), sent_at=sent_at(body))


def read_court_access(payload: bytes) -> CourtAccessMessage:
    body = decode_object(payload)
    card_id = _optional_id(body, "card_id", _CARD)
    member = _optional_id(body, "member_id")
    if bool(card_id) == bool(member):
        raise MalformedMessage("give exactly one of card_id or member_id")
    return CourtAccessMessage(message_id=message_id(body), card_id=card_id.upper(), member_external_id=member,
                              device_id=_optional_id(body, "device_id"), sent_at=sent_at(body))


def read_press(payload: bytes) -> PressMessage:
    body = decode_object(payload)
    return PressMessage(message_id=message_id(body), device_id=_optional_id(body, "device_id"),
                        sent_at=sent_at(body))


def read_status(payload: bytes) -> StatusMessage:
    body = decode_object(payload)
    battery = body.get("battery")
    if battery is not None:
        if isinstance(battery, bool) or not isinstance(battery, (int, float)) or battery != battery:
            raise MalformedMessage("battery must be a number")
        battery = int(min(max(battery, 0), 100))  # some firmware reports 101 while charging
    firmware = body.get("firmware", "")
    if firmware and (not isinstance(firmware, str) or not _FIRMWARE.fullmatch(firmware)):
        raise MalformedMessage("firmware must be a version string")
    return StatusMessage(battery_percent=battery, firmware_version=firmware or "", sent_at=sent_at(body))
