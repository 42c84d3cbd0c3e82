"""Mux Video webhooks: verification and event parsing.

Docs: https://docs.mux.com/core/verify-webhook-signatures , https://docs.mux.com/webhook-reference ;
the reference verifier is mux-node-sdk `src/resources/webhooks/webhooks.ts`.
- `Mux-Signature: t=<unix>,v1=<hex>`: HMAC-SHA256 with the webhook signing secret over
  `"{t}.{raw body}"`, like Stripe but with its own header and secret. The SDK rejects only
  `now - t > 300`; we reject far-future times too.
- Body: `{type, id, created_at, object{type,id}, data, environment{id,name}, attempts[]}`;
  dedup on `id`. `data` is the asset or live stream as the API would return it.
- A live stream's `data.stream_key` lets anyone broadcast on it, so it is removed from
  the `raw` we hand on (and so from what gets stored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from adapters.errors import ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.inbound import (
    EventType,
    InboundEvent,
    InboundRequest,
    VerificationSecrets,
    drop_empty,
    from_iso8601,
    json_object_body,
    nested,
    nested_list,
    require,
)
from adapters.signing import require_secret, verify_timestamped_hmac
from adapters.types import ValidationResult

key = "mux"
display_name = "Mux"
SIGNATURE_HEADER = "Mux-Signature"
_SECRET_FIELDS = ("stream_key",)

EVENT_TYPES: dict[str, EventType] = {
    "video.live_stream.active": EventType.LIVE_STREAM_ACTIVE,
    "video.live_stream.idle": EventType.LIVE_STREAM_IDLE,
    "video.asset.ready": EventType.ASSET_READY,
    "video.asset.errored": EventType.ASSET_ERRORED,
}


def verify(
    request: InboundRequest,
    secrets: VerificationSecrets,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> None:
    secret = require_secret(secrets.signing_key, "Mux webhook signing secret")
    verify_timestamped_hmac(
        body=request.body,
        header_value=request.headers.get(SIGNATURE_HEADER),
        header=SIGNATURE_HEADER,
        secret=secret,
        now=now,
        tolerance_seconds=tolerance_seconds,
    )


def handshake(request: InboundRequest, secrets: VerificationSecrets) -> None:
    """Mux has no subscription handshake."""
    return None


def parse(request: InboundRequest) -> list[InboundEvent]:
    event = json_object_body(request)
    event_id = require(event, "id")
    vendor_type = require(event, "type")
    occurred_at = from_iso8601(require(event, "created_at"), name="created_at")
    data = nested(event, "data")
    subject = nested(event, "object")
    playback_ids = [
        item.get("id") for item in nested_list(data, "playback_ids") if isinstance(item, dict)
    ]
    errors = nested(data, "errors")
    details = {
        "status": data.get("status"),
        "live_stream_id": data.get("live_stream_id"),
        "active_asset_id": data.get("active_asset_id"),
        "playback_ids": playback_ids,
        "duration": data.get("duration"),
        "passthrough": data.get("passthrough"),
        "error_type": errors.get("type"),
        "error_messages": errors.get("messages"),
        "environment": nested(event, "environment").get("name"),
    }
    redacted_data = {name: value for name, value in data.items() if name not in _SECRET_FIELDS}
    return [
        InboundEvent(
            type=EVENT_TYPES.get(vendor_type, EventType.UNKNOWN),
            external_id=event_id,
            occurred_at=occurred_at,
            subject_id=data.get("id") or subject.get("id"),
            raw={**event, "data": redacted_data},
            vendor_type=vendor_type,
            details=drop_empty(details),
        )
    ]


# --- Mux Video API ----------------------------------------------------------------------------
# Docs: https://docs.mux.com/api-reference (authentication: an access token id and secret as
# HTTP Basic user and password), https://docs.mux.com/api-reference#video/operation/list-live-streams .
# The published description is tests/sandboxes/specs/mux-video.json (2021-08, see its SOURCES.md
# entry). Error bodies are `{"error": {"type": ..., "messages": [...]}}`. A live stream in any
# answer carries its `stream_key`, which lets anyone broadcast on it: nothing here logs or
# returns a live stream's body as a whole.


@dataclass(frozen=True)
class Config:
    token_id: str  # the access token id (HTTP Basic user)
    token_secret: str  # the access token secret (HTTP Basic password)
    base_url: str = field(default_factory=lambda: provider_base_url("mux", "https://api.mux.com"))
    timeout_seconds: float = 10.0


class MuxVideoClient:
    """The Mux Video API for one access token, on one pooled ProviderHttpClient."""

    def __init__(self, config: Config) -> None:
        self._http = ProviderHttpClient(
            key,
            config.base_url,
            timeout=config.timeout_seconds,
            auth=(config.token_id, config.token_secret),
            default_headers={"Accept": "application/json"},
        )

    def list_live_streams(self, *, limit: int = 25, page: int = 1) -> list[dict]:
        response = self._http.request(
            "GET", "/video/v1/live-streams", params={"limit": limit, "page": page}
        )
        data = self._data(response, "GET /video/v1/live-streams")
        if not isinstance(data, list):
            raise ProviderUnavailable(
                "Mux answered GET /video/v1/live-streams without a list",
                provider=key,
                code="malformed_response",
            )
        return [stream for stream in data if isinstance(stream, dict)]

    @staticmethod
    def _data(response, where: str):
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "data" not in body:
            raise ProviderUnavailable(
                f"Mux answered {where} without a data member",
                provider=key,
                code="malformed_response",
            )
        return body["data"]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def validate(config: Config) -> ValidationResult:
    """Lists one live stream: cheap, authenticated, and proves the token may use Mux Video."""
    with MuxVideoClient(config) as client:
        streams = client.list_live_streams(limit=1)
    found = "has live streams" if streams else "has no live streams yet"
    return ValidationResult(
        message=f"authenticated with Mux Video; the environment {found}",
        details={"live_streams_seen": len(streams)},
    )
