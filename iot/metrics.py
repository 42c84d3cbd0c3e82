"""Prometheus metrics of the MQTT ingester, served by its own health server at /metrics.

Labels are bounded: `kind` is a topic kind (or "unknown"), `outcome` a handling outcome.
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

mqtt_messages_total = Counter(
    "iot_mqtt_messages_total", "MQTT messages handled by the ingester, by topic kind and outcome.",
    ("kind", "outcome"))
mqtt_malformed_total = Counter(
    "iot_mqtt_malformed_messages_total", "Messages refused because their topic or payload could not be read.",
    ("kind",))
mqtt_unknown_devices_total = Counter(
    "iot_mqtt_unknown_device_messages_total",
    "Messages from a device, court or tenant prefix the registry does not know (or knows twice).", ("kind",))
mqtt_handling_failures_total = Counter(
    "iot_mqtt_handling_failures_total", "Handling attempts that raised, by topic kind and error class.",
    ("kind", "error"))
mqtt_handle_seconds = Histogram(
    "iot_mqtt_handle_seconds", "Time from receipt to committed handling of one message.", ("kind",),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
mqtt_connected = Gauge("iot_mqtt_connected", "1 while the ingester is connected to the broker.")
heartbeat_flushes_total = Counter("iot_heartbeat_flushes_total", "Coalesced heartbeat writes.")
heartbeat_rows_total = Counter("iot_heartbeat_rows_total", "Device rows written by heartbeat flushes.")
heartbeats_coalesced_total = Counter(
    "iot_heartbeats_coalesced_total", "Device messages folded into a pending write instead of a query each.")
