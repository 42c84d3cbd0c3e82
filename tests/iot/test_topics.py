"""Topic and payload reading: pure functions, no database, no broker."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from iot.payloads import MalformedMessage, read_court_access, read_press, read_scan, read_status
from iot.topics import MessageKind, ParsedTopic, TenantPrefixes, TopicNotRecognised, parse_topic, subscription_filters


@pytest.mark.parametrize(("topic", "expected"), [
    ("court/c-7/checkin", ParsedTopic(MessageKind.COURT_CHECKIN, "c-7", None)),
    ("court/c-7/checkout", ParsedTopic(MessageKind.COURT_CHECKOUT, "c-7", None)),
    ("court/c-7/button/pressed", ParsedTopic(MessageKind.BUTTON_PRESSED, "c-7", None)),
    ("tablet/tab.1/status", ParsedTopic(MessageKind.TABLET_STATUS, "tab.1", None)),
    ("rfid/r:12/scan", ParsedTopic(MessageKind.RFID_SCAN, "r:12", None)),
    ("alpha/rfid/r-12/scan", ParsedTopic(MessageKind.RFID_SCAN, "r-12", "alpha")),
    ("alpha/court/court/button/pressed", ParsedTopic(MessageKind.BUTTON_PRESSED, "court", "alpha")),
])
def test_device_topics_are_read_with_or_without_a_tenant_prefix(topic, expected):
    assert parse_topic(topic) == expected


@pytest.mark.parametrize("topic", [
    "rfid/r-12/scan/extra", "rfid//scan", "rfid/r 12/scan", "a/b/rfid/r-12/scan", "rfid/r-12/response",
    "alpha/rfid/r-12/response", "al pha/rfid/r-12/scan", "", "court/c-7", "rfid/-r/scan",
])
def test_anything_else_is_not_recognised(topic):
    with pytest.raises(TopicNotRecognised):
        parse_topic(topic)


def test_the_prefix_setting_decides_which_forms_are_read():
    assert parse_topic("rfid/r-1/scan", prefixes=TenantPrefixes.REGISTRY).tenant_slug is None
    assert parse_topic("alpha/rfid/r-1/scan", prefixes=TenantPrefixes.SLUG).tenant_slug == "alpha"
    with pytest.raises(TopicNotRecognised):
        parse_topic("rfid/r-1/scan", prefixes=TenantPrefixes.SLUG)
    with pytest.raises(TopicNotRecognised):
        parse_topic("alpha/rfid/r-1/scan", prefixes=TenantPrefixes.REGISTRY)


@pytest.mark.parametrize(("topic", "reply"), [
    ("alpha/rfid/r-12/scan", "alpha/rfid/r-12/response"),
    ("rfid/r-12/scan", "rfid/r-12/response"),
    ("alpha/court/c-7/checkin", "alpha/court/c-7/checkin/response"),
    ("court/c-7/checkout", "court/c-7/checkout/response"),
    ("alpha/tablet/t-1/status", None),
    ("court/c-7/button/pressed", None),
])
def test_answers_mirror_the_form_of_the_message(topic, reply):
    assert parse_topic(topic).reply_topic() == reply


def test_subscriptions_are_shared_qos_filters_for_each_form():
    filters = subscription_filters(prefixes=TenantPrefixes.BOTH, shared_group="hub-ingest")

    assert filters == [
        "$share/hub-ingest/court/+/checkin", "$share/hub-ingest/court/+/checkout",
        "$share/hub-ingest/court/+/button/pressed", "$share/hub-ingest/tablet/+/status",
        "$share/hub-ingest/rfid/+/scan", "$share/hub-ingest/+/court/+/checkin",
        "$share/hub-ingest/+/court/+/checkout", "$share/hub-ingest/+/court/+/button/pressed",
        "$share/hub-ingest/+/tablet/+/status", "$share/hub-ingest/+/rfid/+/scan"]
    assert subscription_filters(prefixes=TenantPrefixes.SLUG)[0] == "+/court/+/checkin"
    with pytest.raises(ValueError):
        subscription_filters(prefixes=TenantPrefixes.SLUG, shared_group="a/b")


def test_a_scan_is_read_with_its_identity_and_time():
    scan = read_scan(b'{"msg_id": "m-1", "card_id": "04a2b3", "ts": "2026-01-01T10:00:00Z"}')

    assert (scan.message_id, scan.card_id, scan.sent_at) == ("m-1", "04A2B3", datetime(2026, 1, 1, 10, tzinfo=UTC))
    assert read_scan(b'{"seq": 41, "card_id": "04A2"}').message_id == "seq:41"
    assert read_scan(b'{"seq": 1, "card_id": "04A2", "ts": 1767261600000}').sent_at == datetime(2026, 1, 1, 10,
                                                                                                   tzinfo=UTC)


@pytest.mark.parametrize(("reader", "payload", "reason"), [
    (read_scan, b'{"card_id": "04A2"}', "an event needs msg_id or seq"),
    (read_scan, b'{"seq": -1, "card_id": "04A2"}', "seq must be a non-negative integer"),
    (read_scan, b'{"seq": true, "card_id": "04A2"}', "seq must be a non-negative integer"),
    (read_scan, b'{"msg_id": "m", "card_id": "04A2", "ts": "yesterday"}', "ts is not an ISO 8601 time"),
    (read_scan, b'{"msg_id": "m", "card_id": "04A2", "ts": "2026-01-01T10:00:00"}', "ts needs a time zone"),
    (read_scan, b'{"msg_id": "m", "card_id": "04A2", "ts": 1e300}', "ts is out of range"),
    (read_scan, b'\xff\xfe', "payload is not JSON"),
    (read_court_access, b'{"msg_id": "m"}', "give exactly one of card_id or member_id"),
    (read_court_access, b'{"msg_id": "m", "card_id": "04", "member_id": "crm-1"}',
     "give exactly one of card_id or member_id"),
    (read_press, b'{"msg_id": "m", "device_id": ["b"]}', "device_id is not a valid id"),
    (read_status, b'{"battery": "full"}', "battery must be a number"),
    (read_status, b'{"firmware": "1.0 beta; rm -rf"}', "firmware must be a version string"),
])
def test_malformed_payloads_say_why_without_echoing_them(reader, payload, reason):
    with pytest.raises(MalformedMessage) as refused:
        reader(payload)

    assert refused.value.reason == reason


def test_a_status_beat_needs_no_identity_and_clamps_the_battery():
    status = read_status(b'{"battery": 101, "firmware": "2.4.1"}')

    assert (status.battery_percent, status.firmware_version, status.sent_at) == (100, "2.4.1", None)
    assert read_status(b"{}").battery_percent is None
