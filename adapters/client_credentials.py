"""OAuth2 client-credentials tokens (RFC 6749 §4.4) for providers a service reaches as itself
(Dynamics 365 through Microsoft Entra, Cornerstone), cached per process until shortly before
they expire. A provider refusing a cached token (401) calls `forget` and fetches once more.

Pure: no Django. Tokens live only in this process's memory, never in logs (TokenSet-style
reprs are avoided by storing plain strings in a private dict).
"""
from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit, urlunsplit

from adapters.errors import ProviderAuthFailed, ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient

EXPIRY_MARGIN_SECONDS = 60
CacheKey = tuple[str, ...]

_tokens: dict[CacheKey, tuple[str, float]] = {}
_lock = threading.Lock()


def token(provider: str, token_url: str, *, cache_key: CacheKey, timeout: float, form: dict | None = None,
          json: dict | None = None) -> str:
    """A live access token: the cached one, or a new one from `token_url` (form or JSON body)."""
    with _lock:
        cached = _tokens.get(cache_key)
    if cached and cached[1] - EXPIRY_MARGIN_SECONDS > time.time():
        return cached[0]
    # The client's base is the origin: httpx would add a slash to a base ending in the token path.
    parts = urlsplit(token_url)
    origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    with ProviderHttpClient(f"{provider} token endpoint", origin, timeout=timeout,
                            default_headers={"Accept": "application/json"}) as client:
        try:
            response = client.request("POST", path, data=form, json=json)
        except ProviderRejected as exc:
            # A refused client (400 invalid_client, 401) needs a person to fix its credentials.
            raise ProviderAuthFailed(f"{provider} token endpoint refused the client: {exc.message}",
                                     provider=provider, status_code=exc.status_code,
                                     code="invalid_client") from exc
    try:
        body = response.json()
        access, lifetime = str(body["access_token"]), float(body.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable(f"{provider}: the token endpoint answered without access_token", provider=provider,
                                  code="malformed_response") from None
    with _lock:
        _tokens[cache_key] = (access, time.time() + lifetime)
    return access


def forget(cache_key: CacheKey) -> None:
    with _lock:
        _tokens.pop(cache_key, None)


def expires_at(cache_key: CacheKey) -> float | None:
    """When the cached token expires (Unix time), or None when none is cached."""
    with _lock:
        cached = _tokens.get(cache_key)
    return cached[1] if cached else None


def clear() -> None:
    """Forget every token (tests)."""
    with _lock:
        _tokens.clear()
