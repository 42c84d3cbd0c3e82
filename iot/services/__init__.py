"""Writes and side effects of court operations. `telemetry_ingest` is the MQTT entry point."""
from __future__ import annotations

from datetime import datetime


def telemetry_ingest(*, topic: str, payload: bytes, received_at: datetime):
    """Handle one MQTT message; see iot/services/telemetry.py (imported late: it needs the app registry)."""
    from iot.services.telemetry import telemetry_ingest as ingest

    return ingest(topic=topic, payload=payload, received_at=received_at)
