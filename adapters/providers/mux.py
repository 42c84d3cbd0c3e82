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
from urllib.parse import quote

from adapters.errors import ProviderRejected, ProviderUnavailable
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
# Court streams: a live stream is created with `new_asset_settings`, so while it is active Mux
# records it into `active_asset_id`; a highlight is a clip of that asset, i.e. a new asset whose
# input is `mux://assets/<id>` with `start_time`/`end_time` in seconds from the recording's start
# (https://docs.mux.com/guides/create-clips-from-your-videos). The clip asset reports
# `video.asset.ready` like any other.


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

    def create_live_stream(self, *, passthrough: str = "", reconnect_window_seconds: float = 60,
                           test: bool = False) -> LiveStreamInfo:
        """A public live stream whose recording becomes a public asset (clips are cut from it)."""
        body = {"playback_policy": ["public"], "new_asset_settings": {"playback_policy": ["public"]},
                "reconnect_window": reconnect_window_seconds, "passthrough": passthrough[:255]}
        if test:
            body["test"] = True
        response = self._http.request("POST", "/video/v1/live-streams", json=body)
        return _live_stream(self._object(response, "POST /video/v1/live-streams"))

    def get_live_stream(self, live_stream_id: str) -> LiveStreamInfo:
        where = "GET /video/v1/live-streams/{id}"
        response = self._http.request("GET", f"/video/v1/live-streams/{_segment(live_stream_id)}")
        return _live_stream(self._object(response, where))

    def complete_live_stream(self, live_stream_id: str) -> None:
        """Ends the recording now instead of after the reconnect window (Mux still waits 60 s
        before dropping the encoder connection)."""
        self._http.request("PUT", f"/video/v1/live-streams/{_segment(live_stream_id)}/complete")

    def create_clip(self, *, source_asset_id: str, start_seconds: float, end_seconds: float,
                    passthrough: str = "", test: bool = False) -> AssetInfo:
        """A new asset holding [start, end) of an existing one (the live stream's recording).
        https://docs.mux.com/guides/create-clips-from-your-videos"""
        if end_seconds <= start_seconds or start_seconds < 0:
            raise ValueError("a clip needs 0 <= start_seconds < end_seconds")
        body = {"input": [{"url": f"mux://assets/{source_asset_id}", "start_time": round(start_seconds, 3),
                           "end_time": round(end_seconds, 3)}],
                "playback_policy": ["public"], "passthrough": passthrough[:255]}
        if test:
            body["test"] = True
        response = self._http.request("POST", "/video/v1/assets", json=body)
        return _asset(self._object(response, "POST /video/v1/assets"))

    def get_asset(self, asset_id: str) -> AssetInfo:
        response = self._http.request("GET", f"/video/v1/assets/{_segment(asset_id)}")
        return _asset(self._object(response, "GET /video/v1/assets/{id}"))

    def playback_target(self, playback_id: str) -> tuple[str, str]:
        """What a playback id plays: ("asset" | "live_stream", its id)."""
        response = self._http.request("GET", f"/video/v1/playback-ids/{_segment(playback_id)}")
        target = self._object(response, "GET /video/v1/playback-ids/{id}").get("object")
        if not isinstance(target, dict) or not target.get("id") or target.get("type") not in ("asset", "live_stream"):
            raise ProviderUnavailable("Mux answered a playback id lookup without its object", provider=key,
                                      code="malformed_response")
        return str(target["type"]), str(target["id"])

    def delete_asset(self, asset_id: str) -> None:
        """Deleting an asset Mux no longer has is done already: 404 counts as success."""
        try:
            self._http.request("DELETE", f"/video/v1/assets/{_segment(asset_id)}")
        except ProviderRejected as exc:
            if exc.status_code != 404:
                raise

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

    @classmethod
    def _object(cls, response, where: str) -> dict:
        data = cls._data(response, where)
        if not isinstance(data, dict) or not data.get("id"):
            raise ProviderUnavailable(f"Mux answered {where} without an object id", provider=key,
                                      code="malformed_response")
        return data

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


@dataclass(frozen=True)
class LiveStreamInfo:
    """A live stream as the hub keeps it. `stream_key` lets anyone broadcast: store it as a
    secret, never log it."""

    id: str
    status: str  # idle | active | disabled
    playback_id: str
    stream_key: str = field(default="", repr=False)
    active_asset_id: str = ""


@dataclass(frozen=True)
class AssetInfo:
    id: str
    status: str  # preparing | ready | errored
    playback_id: str = ""
    duration_seconds: float | None = None
    live_stream_id: str = ""
    error_messages: tuple[str, ...] = ()


def _segment(value: str) -> str:
    return quote(value, safe="")


def _first_playback_id(data: dict) -> str:
    for item in data.get("playback_ids") or ():
        if isinstance(item, dict) and item.get("id"):
            return str(item["id"])
    return ""


def _live_stream(data: dict) -> LiveStreamInfo:
    return LiveStreamInfo(id=str(data["id"]), status=str(data.get("status") or "idle"),
                          playback_id=_first_playback_id(data), stream_key=str(data.get("stream_key") or ""),
                          active_asset_id=str(data.get("active_asset_id") or ""))


def _asset(data: dict) -> AssetInfo:
    errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
    duration = data.get("duration")
    return AssetInfo(id=str(data["id"]), status=str(data.get("status") or "preparing"),
                     playback_id=_first_playback_id(data),
                     duration_seconds=float(duration) if isinstance(duration, (int, float)) else None,
                     live_stream_id=str(data.get("live_stream_id") or ""),
                     error_messages=tuple(str(m) for m in errors.get("messages") or ()))
