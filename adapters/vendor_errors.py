"""Error classifiers for vendor families whose error bodies say more than their status codes.

Used as `ProviderHttpClient(classify_error=...)`. A classifier receives the response and the
status-based error and returns the error the hub should act on.
"""
from __future__ import annotations

import time

import httpx

from adapters.errors import ProviderAuthFailed, ProviderError, ProviderRateLimited

# https://developers.google.com/youtube/v3/docs/errors,
# https://developers.google.com/calendar/api/guides/errors
_GOOGLE_RATE_REASONS = {"quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded"}
_GOOGLE_AUTH_REASONS = {"keyInvalid", "authError", "unauthorized", "forbidden", "accessNotConfigured"}
_DAILY_QUOTA_RETRY_SECONDS = 3600.0  # Google's daily quota resets at midnight Pacific; retry hourly

# https://developers.facebook.com/docs/graph-api/guides/error-handling
_META_AUTH_CODES = {102, 190, 200, 10}
_META_RATE_CODES = {4, 17, 32, 613, 80001, 80004}


def _json_error(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _rebuild(kind: type[ProviderError], error: ProviderError, *, retry_after: float | None = None) -> ProviderError:
    return kind(str(error), provider=error.provider, status_code=error.status_code,
                retry_after=retry_after if retry_after is not None else error.retry_after, code=error.code)


def google_errors(response: httpx.Response, error: ProviderError) -> ProviderError:
    details = _json_error(response)
    reasons = {e.get("reason") for e in details.get("errors", []) if isinstance(e, dict)}
    status = details.get("status", "")
    if reasons & _GOOGLE_RATE_REASONS or status == "RESOURCE_EXHAUSTED":
        daily = "dailyLimitExceeded" in reasons or "quotaExceeded" in reasons
        return _rebuild(ProviderRateLimited, error,
                        retry_after=error.retry_after or (_DAILY_QUOTA_RETRY_SECONDS if daily else None))
    message = str(details.get("message", ""))
    if reasons & _GOOGLE_AUTH_REASONS or status == "UNAUTHENTICATED" or "API key not valid" in message:
        return _rebuild(ProviderAuthFailed, error)
    return error


def meta_graph_errors(response: httpx.Response, error: ProviderError) -> ProviderError:
    code = _json_error(response).get("code")
    if code in _META_AUTH_CODES:
        return _rebuild(ProviderAuthFailed, error)
    if code in _META_RATE_CODES:
        return _rebuild(ProviderRateLimited, error)
    return error


def reset_header_errors(header: str):
    """For vendors that say when a rate limit resets as an epoch timestamp (X, Twitch)."""

    def classify(response: httpx.Response, error: ProviderError) -> ProviderError:
        if response.status_code != 429:
            return error
        raw = response.headers.get(header, "")
        try:
            retry_after = max(float(raw) - time.time(), 0.0)
        except ValueError:
            return error
        return _rebuild(ProviderRateLimited, error, retry_after=error.retry_after or retry_after)

    return classify
