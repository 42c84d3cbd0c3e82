"""Vendors whose error bodies overrule their status codes are classified by the body."""
import json
import time

import pytest

from adapters.errors import ProviderAuthFailed, ProviderError, ProviderRateLimited, ProviderRejected
from adapters.http import ProviderHttpClient
from adapters.vendor_errors import google_errors, meta_graph_errors, reset_header_errors
from tests.adapters import ScriptedResponse, ScriptedServer


def _error_from(server, classify, status, body, headers=None):
    server.response = ScriptedResponse(status=status, body=json.dumps(body).encode(),
                                       headers={"Content-Type": "application/json", **(headers or {})})
    with ProviderHttpClient("vendor", server.base_url, timeout=2, classify_error=classify) as client:
        with pytest.raises(ProviderError) as raised:
            client.request("GET", "/thing")
    return raised.value


@pytest.mark.parametrize("status, reason, expected", [
    (403, "quotaExceeded", ProviderRateLimited),
    (403, "rateLimitExceeded", ProviderRateLimited),
    (400, "keyInvalid", ProviderAuthFailed),
    (404, "notFound", ProviderRejected),
])
def test_google_reasons_decide_the_error_type(status, reason, expected):
    with ScriptedServer() as server:
        error = _error_from(server, google_errors, status,
                            {"error": {"code": status, "message": "x", "errors": [{"reason": reason}]}})

    assert type(error) is expected
    assert error.status_code == status
    assert error.retryable is (expected is ProviderRateLimited)


def test_a_google_daily_quota_is_retried_later_not_as_a_credential_failure():
    with ScriptedServer() as server:
        error = _error_from(server, google_errors, 403,
                            {"error": {"code": 403, "errors": [{"reason": "quotaExceeded"}]}})

    assert isinstance(error, ProviderRateLimited) and error.retry_after == 3600.0


@pytest.mark.parametrize("code, expected", [(190, ProviderAuthFailed), (4, ProviderRateLimited),
                                            (100, ProviderRejected)])
def test_meta_error_codes_decide_the_error_type(code, expected):
    with ScriptedServer() as server:
        error = _error_from(server, meta_graph_errors, 400,
                            {"error": {"message": "x", "type": "OAuthException", "code": code}})

    assert type(error) is expected


def test_an_epoch_reset_header_becomes_retry_after():
    with ScriptedServer() as server:
        error = _error_from(server, reset_header_errors("x-rate-limit-reset"), 429, {"title": "Too Many Requests"},
                            headers={"x-rate-limit-reset": str(int(time.time()) + 42)})

    assert isinstance(error, ProviderRateLimited)
    assert 40 <= error.retry_after <= 42
