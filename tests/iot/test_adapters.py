"""The Ziggy and Mux adapters against their sandboxes: every call of the ports, and provider
failures mapped to our typed errors (never an httpx or provider exception)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from adapters.errors import ProviderAuthFailed, ProviderRejected, ProviderUnavailable
from adapters.providers import mux, ziggy
from tests.sandboxes.mux import DEFAULT_TOKEN_ID, DEFAULT_TOKEN_SECRET
from tests.sandboxes.mux_video import finish_asset, go_live

NOW = datetime(2026, 1, 1, 18, 0, tzinfo=UTC)


@pytest.fixture
def ziggy_client(ziggy_sandbox):
    with ziggy.ZiggyClient(ziggy.Config.for_club(api_key=ziggy_sandbox.api_key, client_id=ziggy_sandbox.client_id,
                                                 club_base_url="https://unused.example")) as client:
        yield client


def test_ziggy_check_in_check_out_sessions_and_consumption(ziggy_client, ziggy_sandbox):
    checked_in = ziggy_client.check_in(user_id="mem-1", court_id="z-7", timestamp=NOW, device_id="reader-7")
    again = ziggy_client.check_in(user_id="mem-1", court_id="z-7", timestamp=NOW)
    consumed = ziggy_client.record_consumption(session_id=checked_in.session_id, item_id="sku-1", item_name="Water",
                                               quantity=3, unit_price=Decimal("4.50"))
    active = ziggy_client.active_sessions(court_id="z-7")
    detail = ziggy_client.session(session_id=checked_in.session_id)
    history = ziggy_client.consumption_history(session_id=checked_in.session_id)
    checked_out = ziggy_client.check_out(session_id=checked_in.session_id, timestamp=NOW)

    assert (checked_in.court_id, checked_in.court_name, checked_in.already_checked_in) == ("z-7", "Court z-7", False)
    assert (again.session_id, again.already_checked_in) == (checked_in.session_id, True)
    assert (consumed.quantity, consumed.unit_price, consumed.total_price) == (3, Decimal("4.50"), Decimal("13.50"))
    assert [s.session_id for s in active] == [checked_in.session_id]
    assert (detail.user_id, detail.status, detail.consumption_total) == ("mem-1", "active", Decimal("13.50"))
    assert [c.item_name for c in history] == ["Water"]
    assert (checked_out.session_id, checked_out.consumption_total) == (checked_in.session_id, Decimal("13.50"))
    assert ziggy_client.session(session_id=checked_in.session_id).checked_out_at is not None


def test_ziggy_failures_are_typed(ziggy_sandbox):
    wrong = ziggy.ZiggyClient(ziggy.Config.for_club(api_key="zg_wrong", client_id=ziggy_sandbox.client_id,
                                                    club_base_url=""))
    client = ziggy.ZiggyClient(ziggy.Config.for_club(api_key=ziggy_sandbox.api_key,
                                                     client_id=ziggy_sandbox.client_id, club_base_url="",
                                                     timeout_seconds=0.5))

    with pytest.raises(ProviderAuthFailed):
        wrong.active_sessions()
    with pytest.raises(ProviderRejected) as unknown:
        client.check_out(session_id="ses_nope", timestamp=NOW)
    assert unknown.value.status_code == 404
    ziggy_sandbox.fail_next(1, status=502)
    with pytest.raises(ProviderUnavailable):
        client.session(session_id="ses_any")
    ziggy_sandbox.delay(2.0)
    with pytest.raises(ProviderUnavailable) as slow:
        client.active_sessions()
    assert slow.value.code == "timeout"
    ziggy_sandbox.delay(0)


def test_ziggy_without_any_base_url_refuses_before_calling(monkeypatch):
    monkeypatch.delenv("PROVIDER_ZIGGY_BASE_URL", raising=False)

    with pytest.raises(ProviderRejected):
        ziggy.ZiggyClient(ziggy.Config.for_club(api_key="k", client_id="c", club_base_url=""))


@pytest.fixture
def mux_client(mux_sandbox):
    with mux.MuxVideoClient(mux.Config(token_id=DEFAULT_TOKEN_ID, token_secret=DEFAULT_TOKEN_SECRET)) as client:
        yield client


def test_mux_live_stream_clip_asset_playback_and_delete(mux_client, mux_sandbox):
    stream = mux_client.create_live_stream(passthrough='{"court": "c-7"}', test=True)
    recording = go_live(mux_sandbox, stream.id)
    live = mux_client.get_live_stream(stream.id)
    clip = mux_client.create_clip(source_asset_id=recording["id"], start_seconds=50, end_seconds=80,
                                  passthrough='{"clip_id": "x"}')
    finish_asset(mux_sandbox, clip.id)
    ready = mux_client.get_asset(clip.id)
    target = mux_client.playback_target(ready.playback_id)
    mux_client.complete_live_stream(stream.id)
    mux_client.delete_asset(clip.id)
    mux_client.delete_asset(clip.id)  # gone already: nothing to do

    assert (stream.status, bool(stream.stream_key), bool(stream.playback_id)) == ("idle", True, True)
    assert "stream_key" not in repr(stream)
    assert (live.status, live.active_asset_id) == ("active", recording["id"])
    assert (clip.status, ready.status, ready.duration_seconds) == ("preparing", "ready", 30.0)
    assert target == ("asset", clip.id)
    assert clip.id not in mux_sandbox.assets
    assert mux_sandbox.assets[recording["id"]]  # the recording itself is untouched


def test_mux_refusals_are_typed(mux_client):
    with pytest.raises(ProviderRejected) as missing_source:
        mux_client.create_clip(source_asset_id="nope", start_seconds=0, end_seconds=30)
    with pytest.raises(ValueError):
        mux_client.create_clip(source_asset_id="any", start_seconds=30, end_seconds=10)
    with pytest.raises(ProviderRejected) as missing_stream:
        mux_client.get_live_stream("nope")
    wrong = mux.MuxVideoClient(mux.Config(token_id=DEFAULT_TOKEN_ID, token_secret="wrong"))
    with pytest.raises(ProviderAuthFailed):
        wrong.get_asset("any")

    assert (missing_source.value.status_code, missing_stream.value.status_code) == (400, 404)
