"""The one HTTP client for providers without an official SDK, and the base URL overrides.

`ProviderHttpClient.request` either returns a 2xx/3xx response or raises a typed provider
error, so adapters never see httpx exceptions. Redirects are not followed: a provider API
that redirects is misconfigured, and following it could carry credentials elsewhere.
"""
from __future__ import annotations

import os
import re
import time
from email.utils import parsedate_to_datetime
from collections.abc import Callable
from typing import Any

import httpx

from adapters.errors import ProviderError, ProviderRejected, ProviderUnavailable, classify_http_status
from adapters.redaction import redact

ERROR_TEXT_LIMIT = 300
# Redaction runs before truncation so a secret cut in half cannot slip through; this bounds
# the work on a huge error page while leaving room for any secret straddling the limit.
_REDACTION_WINDOW = 4096


ErrorClassifier = Callable[[httpx.Response, ProviderError], ProviderError]


class ProviderHttpClient:
    """A pooled httpx client for one provider config. Thread-safe; close it when done."""

    def __init__(self, provider: str, base_url: str, *, timeout: float,
                 default_headers: dict | None = None, auth: Any = None, verify: Any = True,
                 classify_error: ErrorClassifier | None = None) -> None:
        # `verify` takes an ssl.SSLContext for providers that authenticate the client by its
        # TLS certificate (Swish) or serve a private CA.
        # `classify_error` lets a provider correct the status-only classification from its
        # error body (Google's 403 quotaExceeded is a rate limit, Meta's 400 code 190 a bad token).
        self.provider = provider
        self._classify_error = classify_error
        self.base_url = base_url
        self._client = httpx.Client(base_url=base_url, timeout=timeout, headers=default_headers or {},
                                    auth=auth, verify=verify, follow_redirects=False)

    def request(self, method: str, path: str, *, json: Any = None, data: Any = None,
                params: Any = None, headers: dict | None = None,
                content: bytes | None = None) -> httpx.Response:
        # Messages name the method and path only: query strings may carry API keys.
        where = f"{method.upper()} {path}"
        try:
            # `content` sends exact bytes, for bodies the caller has signed.
            response = self._client.request(method, path, json=json, data=data, params=params,
                                            headers=headers, content=content)
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(f"{self.provider}: {where} timed out ({type(exc).__name__})",
                                      provider=self.provider, code="timeout") from exc
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            # Our request or base URL is malformed; retrying cannot fix that.
            raise ProviderRejected(f"{self.provider}: {where} could not be sent: {_error_text(str(exc))}",
                                   provider=self.provider, code="invalid_request") from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(
                f"{self.provider}: {where} failed ({type(exc).__name__}): {_error_text(str(exc))}",
                provider=self.provider, code="connection_failed") from exc
        if response.status_code >= 400:
            error = classify_http_status(
                response.status_code, provider=self.provider,
                message=f"{self.provider} answered {response.status_code} to {where}: "
                        f"{_error_text(response.text)}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
            if self._classify_error is not None:
                error = self._classify_error(response, error)
            raise error
        return response

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ProviderHttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _error_text(text: str) -> str:
    cleaned = redact(text[:_REDACTION_WINDOW]).strip()
    return cleaned if len(cleaned) <= ERROR_TEXT_LIMIT else cleaned[:ERROR_TEXT_LIMIT] + "…"


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None  # NaN is no delay at all
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None  # HTTP-dates are always GMT; a zoneless date is not one
    return max(when.timestamp() - time.time(), 0.0)


def _env_name(name: str, suffix: str) -> str:
    return f"PROVIDER_{re.sub(r'[^A-Z0-9]', '_', name.upper())}_{suffix}"


def provider_base_url(name: str, default: str) -> str:
    """The provider's API base URL, or PROVIDER_<NAME>_BASE_URL when set (sandbox, region)."""
    return os.environ.get(_env_name(name, "BASE_URL"), "").strip() or default


def provider_token_url(name: str, default: str) -> str:
    """The provider's OAuth token URL, or PROVIDER_<NAME>_TOKEN_URL when set."""
    return os.environ.get(_env_name(name, "TOKEN_URL"), "").strip() or default
