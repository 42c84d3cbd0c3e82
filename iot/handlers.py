"""Webhook handlers of court operations, registered on the webhooks framework at app ready:
Ziggy's access events move sessions and consumption, Mux's stream and asset events move live
streams and highlight clips. Each runs inside the framework's transaction and only moves state
forward; raising has the event retried (used when an event overtakes the one it depends on)."""
from __future__ import annotations

import json

from adapters.inbound import EventType
from iot.services import highlights, ziggy_mirror
from webhooks.handlers import register_handler
from webhooks.models import InboundEvent


def _data(event: InboundEvent) -> dict:
    data = (event.payload or {}).get("data")
    return data if isinstance(data, dict) else {}


def ziggy_check_in(event: InboundEvent) -> None:
    if event.subject_id:
        ziggy_mirror.mirror_check_in(tenant_id=event.tenant_id, external_session_id=event.subject_id,
                                     data=_data(event), occurred_at=event.occurred_at)


def ziggy_check_out(event: InboundEvent) -> None:
    if event.subject_id:
        ziggy_mirror.mirror_check_out(tenant_id=event.tenant_id, external_session_id=event.subject_id,
                                      data=_data(event), occurred_at=event.occurred_at)


def ziggy_consumption(event: InboundEvent) -> None:
    if event.subject_id:
        ziggy_mirror.mirror_consumption(tenant_id=event.tenant_id, event_id=event.external_id,
                                        external_session_id=event.subject_id, data=_data(event),
                                        occurred_at=event.occurred_at)


def mux_live_stream_active(event: InboundEvent) -> None:
    if event.subject_id:
        highlights.live_stream_active(tenant_id=event.tenant_id, provider_stream_id=event.subject_id,
                                      active_asset_id=str((event.details or {}).get("active_asset_id") or ""),
                                      occurred_at=event.occurred_at)


def mux_live_stream_idle(event: InboundEvent) -> None:
    if event.subject_id:
        highlights.live_stream_idle(tenant_id=event.tenant_id, provider_stream_id=event.subject_id,
                                    occurred_at=event.occurred_at)


def _clip_id(event: InboundEvent) -> str:
    """The clip id the hub put in the asset's passthrough when it asked for the clip; assets
    without one (live recordings, other applications' videos) are not ours to handle."""
    passthrough = (event.details or {}).get("passthrough")
    try:
        value = json.loads(passthrough) if isinstance(passthrough, str) else None
    except ValueError:
        return ""
    return str(value.get("clip_id") or "") if isinstance(value, dict) else ""


def mux_asset_ready(event: InboundEvent) -> None:
    clip_id = _clip_id(event)
    if event.subject_id and clip_id:
        playback_ids = (event.details or {}).get("playback_ids") or []
        highlights.clip_asset_ready(tenant_id=event.tenant_id, asset_id=event.subject_id, clip_id=clip_id,
                                    playback_id=str(playback_ids[0]) if playback_ids else "")


def mux_asset_errored(event: InboundEvent) -> None:
    clip_id = _clip_id(event)
    if event.subject_id and clip_id:
        messages = (event.details or {}).get("error_messages") or []
        highlights.clip_asset_errored(tenant_id=event.tenant_id, asset_id=event.subject_id, clip_id=clip_id,
                                      messages=[str(message) for message in messages])


def register() -> None:
    register_handler("ziggy", EventType.ACCESS_CHECKIN)(ziggy_check_in)
    register_handler("ziggy", EventType.ACCESS_CHECKOUT)(ziggy_check_out)
    register_handler("ziggy", EventType.CONSUMPTION_RECORDED)(ziggy_consumption)
    register_handler("mux", EventType.LIVE_STREAM_ACTIVE)(mux_live_stream_active)
    register_handler("mux", EventType.LIVE_STREAM_IDLE)(mux_live_stream_idle)
    register_handler("mux", EventType.ASSET_READY)(mux_asset_ready)
    register_handler("mux", EventType.ASSET_ERRORED)(mux_asset_errored)
