"""Mux Video calls the court operations make, added to MuxSandbox (tests/sandboxes/mux.py):
live stream create / get / complete, clip assets (POST /video/v1/assets with a `mux://assets/`
input), asset get and delete, playback id lookup; every request checked against
specs/mux-video.json and every answer against its schemas.

Behaviour played, from https://docs.mux.com/api-reference and the clipping guide
(https://docs.mux.com/guides/create-clips-from-your-videos):
- a new live stream is `idle` with a public playback id and a stream key;
- `go_live(stream)` plays the encoder connecting: `active`, with a recording asset;
- a clip's input must name an existing asset, with 0 <= start_time < end_time; the clip asset
  starts `preparing`; `finish_asset(asset)` makes it `ready` (or `errored`);
- completing a live stream that is not active is accepted (Mux answers 200 either way).
`signed_mux_webhook` signs an event the way Mux does (`Mux-Signature: t=..,v1=..`).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

from tests.sandboxes.base import Response, SandboxRequest


def _mux_id() -> str:
    from tests.sandboxes.mux import mux_id

    return mux_id()


def add_video_routes(sandbox) -> None:
    sandbox.add_route("POST", "/video/v1/live-streams", lambda r: _create_live_stream(sandbox, r))
    sandbox.add_route("GET", "/video/v1/live-streams/{LIVE_STREAM_ID}", lambda r: _get_live_stream(sandbox, r))
    sandbox.add_route("PUT", "/video/v1/live-streams/{LIVE_STREAM_ID}/complete", lambda r: _complete(sandbox, r))
    sandbox.add_route("POST", "/video/v1/assets", lambda r: _create_asset(sandbox, r))
    sandbox.add_route("GET", "/video/v1/assets/{ASSET_ID}", lambda r: _get_asset(sandbox, r))
    sandbox.add_route("DELETE", "/video/v1/assets/{ASSET_ID}", lambda r: _delete_asset(sandbox, r))
    sandbox.add_route("GET", "/video/v1/playback-ids/{PLAYBACK_ID}", lambda r: _playback(sandbox, r))


def _checked(sandbox, request: SandboxRequest, schema: str, obj: dict, status: int = 200) -> Response:
    if sandbox.validator is not None:
        for problem in sandbox.validator.object_violations(schema, obj):
            with sandbox._lock:
                sandbox._violations.append(f"{request}: answer is not a {schema}: {problem}")
    return status, {}, {"data": obj}


def _stream(sandbox, stream_id: str) -> dict | None:
    return next((s for s in sandbox.live_streams if s["id"] == stream_id), None)


def _create_live_stream(sandbox, request: SandboxRequest) -> Response:
    body = request.parsed_body or {}
    stream = sandbox.add_live_stream()
    stream["passthrough"] = body.get("passthrough", "")
    stream["new_asset_settings"] = body.get("new_asset_settings") or {}
    stream["test"] = bool(body.get("test", False))
    return _checked(sandbox, request, "LiveStream", stream, 201)


def _get_live_stream(sandbox, request: SandboxRequest) -> Response:
    stream = _stream(sandbox, request.path_params["LIVE_STREAM_ID"])
    if stream is None:
        return sandbox.error_response(404, "Live stream not found", error_type="not_found")
    return _checked(sandbox, request, "LiveStream", stream)


def _complete(sandbox, request: SandboxRequest) -> Response:
    stream = _stream(sandbox, request.path_params["LIVE_STREAM_ID"])
    if stream is None:
        return sandbox.error_response(404, "Live stream not found", error_type="not_found")
    stream["status"] = "idle"
    stream.pop("active_asset_id", None)
    return 200, {}, {"data": {}}


def _new_asset(sandbox, **fields) -> dict:
    asset = {"id": _mux_id(), "created_at": str(int(time.time())), "status": "preparing",
             "playback_ids": [{"id": _mux_id(), "policy": "public"}], "mp4_support": "none",
             "master_access": "none", **fields}
    sandbox.assets[asset["id"]] = asset
    return asset


def _create_asset(sandbox, request: SandboxRequest) -> Response:
    body = request.parsed_body or {}
    inputs = body.get("input") or []
    source = inputs[0] if inputs and isinstance(inputs[0], dict) else {}
    url = str(source.get("url", ""))
    if not url.startswith("mux://assets/"):
        return sandbox.error_response(400, "input must be a mux://assets/{id} URL for a clip")
    source_id = url.removeprefix("mux://assets/")
    if source_id not in sandbox.assets:
        return sandbox.error_response(400, f"Asset {source_id} does not exist")
    start, end = source.get("start_time", 0), source.get("end_time")
    if end is not None and not 0 <= start < end:
        return sandbox.error_response(400, "start_time must be at least 0 and before end_time")
    asset = _new_asset(sandbox, source_asset_id=source_id, passthrough=body.get("passthrough", ""),
                       test=bool(body.get("test", False)))
    asset["clip_window"] = (start, end)  # not Mux's: lets a test see what was asked
    return _checked(sandbox, request, "Asset", _public(asset), 201)


def _get_asset(sandbox, request: SandboxRequest) -> Response:
    asset = sandbox.assets.get(request.path_params["ASSET_ID"])
    if asset is None:
        return sandbox.error_response(404, "Asset not found", error_type="not_found")
    return _checked(sandbox, request, "Asset", _public(asset))


def _delete_asset(sandbox, request: SandboxRequest) -> Response:
    if sandbox.assets.pop(request.path_params["ASSET_ID"], None) is None:
        return sandbox.error_response(404, "Asset not found", error_type="not_found")
    return 204, {}, b""


def _playback(sandbox, request: SandboxRequest) -> Response:
    playback_id = request.path_params["PLAYBACK_ID"]
    for kind, objects in (("asset", sandbox.assets.values()), ("live_stream", sandbox.live_streams)):
        for obj in objects:
            if any(p.get("id") == playback_id for p in obj.get("playback_ids", [])):
                data = {"id": playback_id, "policy": "public", "object": {"id": obj["id"], "type": kind}}
                return 200, {}, {"data": data}
    return sandbox.error_response(404, "Playback ID not found", error_type="not_found")


def _public(asset: dict) -> dict:
    return {name: value for name, value in asset.items() if name != "clip_window"}


def go_live(sandbox, stream_id: str) -> dict:
    """The encoder connected: the stream is active and recording into a new asset."""
    stream = _stream(sandbox, stream_id)
    recording = _new_asset(sandbox, live_stream_id=stream_id, is_live=True)
    stream["status"], stream["active_asset_id"] = "active", recording["id"]
    stream.setdefault("recent_asset_ids", []).append(recording["id"])
    return recording


def finish_asset(sandbox, asset_id: str, *, errored: bool = False) -> dict:
    asset = sandbox.assets[asset_id]
    asset["status"] = "errored" if errored else "ready"
    if errored:
        asset["errors"] = {"type": "invalid_input", "messages": ["The clip window is outside the recording"]}
    else:
        asset["duration"] = 30.0
    return asset


def signed_mux_webhook(event_type: str, data: dict, *, secret: str, occurred_at: datetime | None = None,
                       event_id: str | None = None) -> tuple[bytes, dict]:
    created = (occurred_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    body = json.dumps({"type": event_type, "id": event_id or _mux_id(), "created_at": created,
                       "object": {"type": event_type.split(".")[1], "id": data.get("id")},
                       "environment": {"name": "Development", "id": "sandbox"}, "data": data,
                       "attempts": []}).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "Mux-Signature": f"t={timestamp},v1={digest}"}
