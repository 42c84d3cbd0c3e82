"""Provider error classification and ProviderHttpClient against a scripted server on loopback."""
from __future__ import annotations

import socket
import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from adapters.errors import (
    CircuitOpen,
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    classify_http_status,
)
from adapters.http import ProviderHttpClient, parse_retry_after, provider_base_url, provider_token_url
from adapters.redaction import register_secret
from tests.adapters import ScriptedResponse, ScriptedServer


@pytest.fixture
def server():
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def client(server):
    with ProviderHttpClient("acme", server.base_url, timeout=2.0) as http:
        yield http


# --- classification -----------------------------------------------------------------------

@pytest.mark.parametrize(("status", "retry_after", "expected_type", "retryable"), [
    (500, None, ProviderUnavailable, True),
    (502, None, ProviderUnavailable, True),
    (503, None, ProviderUnavailable, True),
    (504, None, ProviderUnavailable, True),
    (408, None, ProviderUnavailable, True),
    (503, 30.0, ProviderRateLimited, True),
    (429, 12.0, ProviderRateLimited, True),
    (429, None, ProviderRateLimited, True),
    (400, None, ProviderRejected, False),
    (404, None, ProviderRejected, False),
    (409, None, ProviderRejected, False),
    (422, None, ProviderRejected, False),
    (401, None, ProviderAuthFailed, False),
    (403, None, ProviderAuthFailed, False),
])
def test_http_statuses_are_classified(status, retry_after, expected_type, retryable):
    error = classify_http_status(status, provider="acme", message="it failed", retry_after=retry_after)

    assert type(error) is expected_type
    assert error.retryable is retryable
    assert error.status_code == status
    assert error.provider == "acme"
    assert str(error) == "it failed"
    if expected_type is ProviderRateLimited:
        assert error.retry_after == retry_after


def test_classifying_a_success_status_is_a_programming_error():
    with pytest.raises(ValueError):
        classify_http_status(200, provider="acme", message="fine", retry_after=None)


def test_error_types_keep_their_retryability():
    assert CircuitOpen("open", provider="acme").retryable is True
    assert ProviderUnavailable("down", provider="acme", retryable=True).retryable is True
    assert ProviderAuthFailed("bad key", provider="acme", retryable=False).retryable is False
    with pytest.raises(ValueError):
        ProviderUnavailable("down", provider="acme", retryable=False)
    with pytest.raises(ValueError):
        ProviderRejected("no", provider="acme", retryable=True)


@pytest.mark.parametrize(("header", "expected"), [
    ("120", 120.0),
    (" 2 ", 2.0),
    ("1.5", 1.5),
    ("-3", 0.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past means "now"
    ("soon", None),
    ("", None),
    (None, None),
])
def test_retry_after_header_is_parsed(header, expected):
    assert parse_retry_after(header) == expected


def test_retry_after_http_date_is_seconds_from_now():
    in_thirty_seconds = datetime.now(timezone.utc) + timedelta(seconds=30)

    seconds = parse_retry_after(format_datetime(in_thirty_seconds, usegmt=True))

    assert 28 <= seconds <= 30


# --- the client against a scripted provider ------------------------------------------------

def test_success_returns_the_response_and_sends_headers_auth_params_and_body(server):
    server.response = ScriptedResponse(status=201, body=b'{"id": "pi_1"}')
    with ProviderHttpClient("acme", f"{server.base_url}/v3", timeout=2.0,
                            default_headers={"User-Agent": "integration-hub"},
                            auth=("account", "token-value")) as http:
        response = http.request("POST", "/payments", json={"amount": 100}, params={"expand": "all"},
                                headers={"Idempotency-Key": "key-1"})

    assert response.status_code == 201
    assert response.json() == {"id": "pi_1"}
    [received] = server.requests
    assert received.method == "POST"
    assert received.path == "/v3/payments?expand=all"
    assert received.headers["User-Agent"] == "integration-hub"
    assert received.headers["Idempotency-Key"] == "key-1"
    assert received.headers["Authorization"].startswith("Basic ")
    assert received.body == b'{"amount":100}'


def test_redirects_are_returned_not_followed(server, client):
    server.response = ScriptedResponse(status=302, body=b"", headers={"Location": "https://elsewhere.example/"})

    response = client.request("GET", "/moved")

    assert response.status_code == 302
    assert server.hits == 1


def test_form_data_is_sent_form_encoded(server, client):
    client.request("POST", "/sms", data={"to": "+46700000000", "message": "hej"})

    [received] = server.requests
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert received.body == b"to=%2B46700000000&message=hej"


@pytest.mark.parametrize(("status", "headers", "expected_type", "retry_after"), [
    (503, {"Retry-After": "7"}, ProviderRateLimited, 7.0),
    (429, {"Retry-After": "3"}, ProviderRateLimited, 3.0),
    (500, {}, ProviderUnavailable, None),
    (422, {}, ProviderRejected, None),
    (401, {}, ProviderAuthFailed, None),
])
def test_error_statuses_raise_typed_errors(server, client, status, headers, expected_type, retry_after):
    server.response = ScriptedResponse(status=status, body=b'{"error": "nope"}', headers=headers)

    with pytest.raises(ProviderError) as raised:
        client.request("GET", "/things")

    assert type(raised.value) is expected_type
    assert raised.value.status_code == status
    assert raised.value.retry_after == retry_after
    assert str(raised.value) == f'acme answered {status} to GET /things: {{"error": "nope"}}'


def test_retry_after_as_http_date_is_honoured(server, client):
    in_a_minute = datetime.now(timezone.utc) + timedelta(seconds=60)
    server.response = ScriptedResponse(status=429, headers={"Retry-After": format_datetime(in_a_minute, usegmt=True)})

    with pytest.raises(ProviderRateLimited) as raised:
        client.request("GET", "/things")

    assert 58 <= raised.value.retry_after <= 60


def test_error_text_is_redacted_and_truncated(server, client):
    secret = "whsec_9f8e7d6c5b4a3f2e1d"
    register_secret(secret)
    server.response = ScriptedResponse(status=400, body=f"bad signature for {secret} ".encode() + b"x" * 5000)

    with pytest.raises(ProviderRejected) as raised:
        client.request("POST", "/hooks")

    message = str(raised.value)
    assert secret not in message
    assert "bad signature for [REDACTED]" in message
    prefix = "acme answered 400 to POST /hooks: "
    assert message.startswith(prefix)
    assert len(message) == len(prefix) + 300 + len("…")


def test_timeout_is_provider_unavailable(server):
    server.response = ScriptedResponse(delay_seconds=1.0)
    started = time.monotonic()

    with ProviderHttpClient("acme", server.base_url, timeout=0.2) as http:
        with pytest.raises(ProviderUnavailable) as raised:
            http.request("GET", "/slow")

    assert time.monotonic() - started < 0.9
    assert raised.value.code == "timeout"
    assert raised.value.status_code is None
    assert raised.value.retryable is True


def test_connection_refused_is_provider_unavailable_and_hides_the_query():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    api_key = "AIzaSyFakeMapsKey0123456789"

    with ProviderHttpClient("maps", f"http://127.0.0.1:{closed_port}", timeout=2.0) as http:
        with pytest.raises(ProviderUnavailable) as raised:
            http.request("GET", "/geocode/json", params={"key": api_key})

    assert raised.value.code == "connection_failed"
    assert raised.value.provider == "maps"
    assert api_key not in str(raised.value)
    assert str(raised.value).startswith("maps: GET /geocode/json failed (ConnectError)")


def test_a_malformed_base_url_is_rejected_not_retried():
    with ProviderHttpClient("acme", "ftp://files.example", timeout=1.0) as http:
        with pytest.raises(ProviderRejected) as raised:
            http.request("GET", "/x")

    assert raised.value.code == "invalid_request"


# --- base URL overrides -------------------------------------------------------------------

def test_base_url_comes_from_the_environment_when_set(server, monkeypatch):
    monkeypatch.setenv("PROVIDER_ACME_PAY_BASE_URL", server.base_url)

    base_url = provider_base_url("acme-pay", "https://api.acme.example")
    with ProviderHttpClient("acme-pay", base_url, timeout=2.0) as http:
        response = http.request("GET", "/ping")

    assert base_url == server.base_url
    assert response.status_code == 200
    assert server.hits == 1


def test_base_url_default_applies_when_unset_or_blank(monkeypatch):
    monkeypatch.delenv("PROVIDER_ELKS46_BASE_URL", raising=False)
    assert provider_base_url("elks46", "https://api.46elks.com/a1") == "https://api.46elks.com/a1"

    monkeypatch.setenv("PROVIDER_ELKS46_BASE_URL", "  ")
    assert provider_base_url("elks46", "https://api.46elks.com/a1") == "https://api.46elks.com/a1"


def test_token_url_comes_from_the_environment_when_set(monkeypatch):
    monkeypatch.setenv("PROVIDER_GOOGLE_CALENDAR_TOKEN_URL", "http://127.0.0.1:9/token")

    assert provider_token_url("google.calendar", "https://oauth2.googleapis.com/token") == "http://127.0.0.1:9/token"
    assert provider_token_url("fortnox", "https://apps.fortnox.se/oauth-v1/token") == \
        "https://apps.fortnox.se/oauth-v1/token"
