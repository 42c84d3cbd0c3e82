"""Prometheus metrics for webhooks, both directions. Labels stay bounded: provider keys come
from the registry (anything else is "unknown"), outcomes from the fixed lists below."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

# Inbound outcomes: accepted, duplicate, handshake, signature_invalid, stale_timestamp,
# not_configured, secret_unavailable, malformed, not_found, too_large, unsupported_media_type,
# method_not_allowed, unstorable, unavailable.
webhook_requests_total = Counter(
    "webhook_requests_total", "Inbound webhook requests by provider and outcome.", ("provider", "outcome"))
webhook_request_duration_seconds = Histogram(
    "webhook_request_duration_seconds", "Time to answer an inbound webhook request.", ("provider",),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
webhook_events_total = Counter(
    "webhook_events_total", "Inbound webhook events stored (new) or recognised as duplicates.",
    ("provider", "result"))

# Outbound outcomes: success, http_error, network_error, gone, target_refused, rate_limited.
webhook_deliveries_total = Counter(
    "webhook_deliveries_total", "Outbound webhook delivery attempts by outcome.", ("outcome",))
webhook_delivery_duration_seconds = Histogram(
    "webhook_delivery_duration_seconds", "Duration of one outbound webhook delivery attempt.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
