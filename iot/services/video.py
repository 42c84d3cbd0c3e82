"""The video-platform port: court live streams and highlight clips on the tenant's Mux
integration (the streaming family's "mux" config), through the resilience wrapper."""
from __future__ import annotations

from adapters.providers import mux
from adapters.resilience import RetryPolicy
from integrations.families.registry import family_spec
from integrations.lifecycle import Status
from integrations.models import StreamingIntegration
from integrations.secrets.services import secret_resolve
from integrations.services.calls import integration_call

CALL_POLICY = RetryPolicy(attempts=2, initial_wait=0.2, max_wait=2.0)


class VideoPlatformNotConfigured(Exception):
    """The tenant has no active Mux streaming integration."""


def video_integration(*, tenant_id) -> StreamingIntegration:
    integration = (StreamingIntegration.objects
                   .filter(tenant_id=tenant_id, provider=StreamingIntegration.Provider.MUX, status=Status.ACTIVE.value)
                   .order_by("-created_at").first())
    if integration is None:
        raise VideoPlatformNotConfigured("no active Mux streaming integration")
    return integration


def _config(integration: StreamingIntegration) -> mux.Config:
    binding = family_spec("streaming").binding("mux")
    return binding.build_config(integration, lambda ref: secret_resolve(tenant=integration.tenant, ref=ref))


def _call(integration: StreamingIntegration, operation: str, action, *, policy: RetryPolicy = CALL_POLICY):
    config = _config(integration)

    def run():
        with mux.MuxVideoClient(config) as client:
            return action(client)

    return integration_call(integration=integration, operation=operation, fn=run, policy=policy)


def create_live_stream(*, integration: StreamingIntegration, passthrough: str) -> mux.LiveStreamInfo:
    # Creating is not idempotent at Mux: a retry after a lost answer would make a second stream.
    return _call(integration, "live_stream.create",
                 lambda client: client.create_live_stream(passthrough=passthrough, test=integration.sandbox_mode),
                 policy=RetryPolicy(attempts=1))


def complete_live_stream(*, integration: StreamingIntegration, live_stream_id: str) -> None:
    _call(integration, "live_stream.complete", lambda client: client.complete_live_stream(live_stream_id))


def create_clip(*, integration: StreamingIntegration, source_asset_id: str, start_seconds: float,
                end_seconds: float, passthrough: str) -> mux.AssetInfo:
    return _call(integration, "asset.clip", lambda client: client.create_clip(
        source_asset_id=source_asset_id, start_seconds=start_seconds, end_seconds=end_seconds,
        passthrough=passthrough, test=integration.sandbox_mode), policy=RetryPolicy(attempts=1))


def get_asset(*, integration: StreamingIntegration, asset_id: str) -> mux.AssetInfo:
    return _call(integration, "asset.get", lambda client: client.get_asset(asset_id))


def playback_target(*, integration: StreamingIntegration, playback_id: str) -> tuple[str, str]:
    return _call(integration, "playback.get", lambda client: client.playback_target(playback_id))


def delete_asset(*, integration: StreamingIntegration, asset_id: str) -> None:
    _call(integration, "asset.delete", lambda client: client.delete_asset(asset_id))


def playback_url(playback_id: str) -> str:
    return f"https://stream.mux.com/{playback_id}.m3u8"
