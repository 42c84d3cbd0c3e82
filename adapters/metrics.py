"""Prometheus metrics for outbound provider calls, one observation per attempt.

They live in prometheus_client's default registry, which `/metrics` exposes. The label set is
deliberately small and bounded (no tenant, no config id) so the series count stays sane.
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram

LABELS = ("family", "provider", "operation", "outcome")

integration_requests_total = Counter(
    "integration_requests_total",
    "Outbound provider call attempts, including those refused by an open circuit breaker.",
    LABELS,
)
integration_errors_total = Counter(
    "integration_errors_total",
    "Outbound provider call attempts that did not succeed.",
    LABELS,
)
integration_request_duration_seconds = Histogram(
    "integration_request_duration_seconds",
    "Duration of one outbound provider call attempt.",
    LABELS,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)


def observe_attempt(*, family: str, provider: str, operation: str, outcome: str,
                    latency_seconds: float) -> None:
    labels = {"family": family, "provider": provider, "operation": operation, "outcome": outcome}
    integration_requests_total.labels(**labels).inc()
    integration_request_duration_seconds.labels(**labels).observe(latency_seconds)
    if outcome != "success":
        integration_errors_total.labels(**labels).inc()
