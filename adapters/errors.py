"""Typed provider errors: every adapter raises these, never a provider SDK's own exceptions.

The split that matters is `retryable`: transient failures (5xx, timeouts, connection errors,
rate limits, an open breaker) may succeed later; permanent ones (4xx, bad credentials) never
will, so nothing retries them and they never open a circuit breaker.
"""
from __future__ import annotations


class ProviderError(Exception):
    def __init__(self, message: str, *, provider: str, retryable: bool, status_code: int | None = None,
                 retry_after: float | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after
        self.code = code

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.message!r}, provider={self.provider!r}, "
                f"status_code={self.status_code!r}, retry_after={self.retry_after!r}, code={self.code!r})")


class ProviderUnavailable(ProviderError):
    """A transient failure: 5xx, timeout, connection error. Worth retrying later."""

    def __init__(self, message: str, *, provider: str, retryable: bool = True, status_code: int | None = None,
                 retry_after: float | None = None, code: str | None = None) -> None:
        if not retryable:
            raise ValueError(f"{type(self).__name__} is always retryable")
        super().__init__(message, provider=provider, retryable=True, status_code=status_code,
                         retry_after=retry_after, code=code)


class ProviderRateLimited(ProviderUnavailable):
    """429 (or 503 with Retry-After). `retry_after` is the provider's requested wait in seconds."""


class CircuitOpen(ProviderUnavailable):
    """The breaker for this provider config is open, so no request was sent.

    Retryable as far as fallback routing and task rescheduling go, but `call_provider` never
    retries it in-call: waiting inside the call would only hold a worker hostage. `retry_after`
    is the time left until the breaker lets a trial call through, when known.
    """


class ProviderRejected(ProviderError):
    """A permanent failure: the provider understood the request and refused it (4xx)."""

    def __init__(self, message: str, *, provider: str, retryable: bool = False, status_code: int | None = None,
                 retry_after: float | None = None, code: str | None = None) -> None:
        if retryable:
            raise ValueError(f"{type(self).__name__} is never retryable")
        super().__init__(message, provider=provider, retryable=False, status_code=status_code,
                         retry_after=retry_after, code=code)


class ProviderAuthFailed(ProviderRejected):
    """401/403: the credentials are wrong, expired or lack a permission."""


# 408 and 425 are 4xx, but they say "try again", not "this request is wrong".
_TRANSIENT_CLIENT_STATUSES = frozenset({408, 425})


def classify_http_status(status: int, *, provider: str, message: str,
                         retry_after: float | None) -> ProviderError:
    """Map an HTTP error status to the provider error a caller should see."""
    if status < 400:
        raise ValueError(f"HTTP {status} is not an error status")
    if status in (401, 403):
        return ProviderAuthFailed(message, provider=provider, status_code=status)
    if status == 429 or (status == 503 and retry_after is not None):
        return ProviderRateLimited(message, provider=provider, status_code=status, retry_after=retry_after)
    if status >= 500 or status in _TRANSIENT_CLIENT_STATUSES:
        return ProviderUnavailable(message, provider=provider, status_code=status, retry_after=retry_after)
    return ProviderRejected(message, provider=provider, status_code=status)
