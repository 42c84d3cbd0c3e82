"""Every outbound provider call runs through `call_provider`: circuit breaker, retries, metrics.

- The breaker is a pybreaker CircuitBreaker per provider *and* config, keyed
  `hub:breaker:<provider>:<config_key>`. With a Redis URL its state lives in Redis, so every
  web and worker process shares it; without one it is per process (the embedded default).
- Only retryable `ProviderError`s count as failures. Permanent ones (4xx, bad credentials)
  mean the provider is up and answering, so they count as successes. Any other exception is
  a programming error: it propagates unchanged, is not retried, and leaves the breaker alone.
- Retries use tenacity: exponential backoff with full jitter, capped at `max_wait`, never less
  than a provider's Retry-After. A Retry-After longer than `max_wait` is not waited out
  in-call; the error is raised so the calling Celery task can reschedule itself. An open
  breaker raises `CircuitOpen` at once, without calling the provider, and is never retried.
- Each attempt is reported to the observer and to the Prometheus metrics, and each failed
  attempt is logged at WARNING with its text redacted.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol, TypeVar

import pybreaker
import redis
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from adapters import metrics
from adapters.errors import CircuitOpen, ProviderError
from adapters.redaction import redact

logger = logging.getLogger(__name__)

T = TypeVar("T")

BREAKER_KEY_PREFIX = "hub:breaker"
# Breaker bookkeeping must never hang a provider call: a slow Redis counts as an absent one.
_REDIS_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class CallContext:
    provider: str
    config_key: str
    family: str
    operation: str


class CallObserver(Protocol):
    def on_attempt(self, ctx: CallContext, *, outcome: str, latency_seconds: float,
                   error: ProviderError | None) -> None:
        """Called once per attempt; outcome is "success", "error", "rejected" or "circuit_open"."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    initial_wait: float = 0.5
    max_wait: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.initial_wait < 0 or self.max_wait < 0:
            raise ValueError("RetryPolicy waits must not be negative")


# --- breaker storage ---------------------------------------------------------------------

class _SharedBreakerStorage(pybreaker.CircuitRedisStorage):
    """pybreaker's Redis storage, with the gaps that matter across processes closed.

    - `opened_at`: pybreaker stores whole epoch seconds, so a breaker opened at x.9 s may
      half-open up to a second early (immediately, with a one-second reset timeout). Stored
      here as a float.
    - Construction: pybreaker initialises the keys without catching RedisError, so building
      a breaker while Redis is down would raise out of the provider call. Every other read
      already falls back to "closed"; construction does the same.
    - `claim_trial`: in half-open state pybreaker lets every caller through, and across
      processes nothing serialises them. Only the claimant of the trial key may call.
    - Keys are exactly `hub:breaker:<provider>:<config_key>:<field>`.
    """

    def __init__(self, client: redis.Redis, key: str) -> None:
        super().__init__(pybreaker.STATE_CLOSED, client, namespace=key)

    def _namespace(self, key: str) -> str:
        return f"{self._namespace_name}:{key}"

    def _initialize_redis_state(self, state: str) -> None:
        try:
            super()._initialize_redis_state(state)
        except redis.RedisError as exc:
            logger.warning("breaker state unavailable, assuming closed: key=%s error=%s",
                           self._namespace_name, type(exc).__name__)

    @property
    def opened_at(self) -> datetime | None:
        try:
            stored = self._redis.get(self._namespace("opened_at"))
        except redis.RedisError as exc:
            logger.warning("breaker opened_at unreadable: key=%s error=%s", self._namespace_name,
                           type(exc).__name__)
            return None
        return datetime.fromtimestamp(float(stored), timezone.utc) if stored else None

    @opened_at.setter
    def opened_at(self, now: datetime) -> None:
        try:
            self._redis.set(self._namespace("opened_at"), repr(now.timestamp()))
        except redis.RedisError as exc:
            logger.warning("breaker opened_at not stored: key=%s error=%s", self._namespace_name,
                           type(exc).__name__)

    def claim_trial(self, ttl_seconds: float) -> bool:
        try:
            claimed = self._redis.set(self._namespace("trial"), "1", nx=True,
                                      px=max(1, int(ttl_seconds * 1000)))
        except redis.RedisError:
            return True  # like the rest of the storage: without Redis, calls go through
        return bool(claimed)


class _LocalBreakerStorage(pybreaker.CircuitMemoryStorage):
    """Per-process storage for the embedded default, with the same single-trial guard."""

    def __init__(self) -> None:
        super().__init__(pybreaker.STATE_CLOSED)
        self._trial_lock = threading.Lock()
        self._trial_expires_at = 0.0

    def claim_trial(self, ttl_seconds: float) -> bool:
        with self._trial_lock:
            now = time.monotonic()
            if now < self._trial_expires_at:
                return False
            self._trial_expires_at = now + ttl_seconds
            return True


# --- breaker states and breaker ----------------------------------------------------------

class _ProviderFailuresOnly:
    """pybreaker treats an excluded exception as a success, which would let a programming
    error reset the failure count or close a half-open breaker. Only provider errors are
    evidence about the provider; anything else passes through without touching the state."""

    def _handle_error(self, exc: BaseException, reraise: bool = True) -> None:
        if isinstance(exc, ProviderError):
            super()._handle_error(exc, reraise)  # type: ignore[misc]
        elif reraise:
            raise exc


class _ClosedState(_ProviderFailuresOnly, pybreaker.CircuitClosedState):
    pass


class _OpenState(_ProviderFailuresOnly, pybreaker.CircuitOpenState):
    pass


class _HalfOpenState(_ProviderFailuresOnly, pybreaker.CircuitHalfOpenState):
    def before_call(self, func, *args, **kwargs) -> None:
        # The trial claim expires after reset_timeout, so a trial whose process died
        # does not keep the breaker half-open forever.
        if not self._breaker._state_storage.claim_trial(self._breaker.reset_timeout):
            raise pybreaker.CircuitBreakerError("a trial call is already in flight")


class _SharedCircuitBreaker(pybreaker.CircuitBreaker):
    _STATES = {
        pybreaker.STATE_CLOSED: _ClosedState,
        pybreaker.STATE_OPEN: _OpenState,
        pybreaker.STATE_HALF_OPEN: _HalfOpenState,
    }

    def _create_new_state(self, new_state, prev_state=None, notify=False):
        if new_state not in self._STATES:
            raise ValueError(f"unknown breaker state {new_state!r}")
        return self._STATES[new_state](self, prev_state=prev_state, notify=notify)

    def _state_synced_with_storage(self):
        stored = self.current_state
        with self._lock:
            if stored != self._state.name:
                # Another process moved the breaker. pybreaker re-enters the state with
                # notify=True, and entering "closed" that way zeroes the shared failure
                # counter, erasing failures that other processes have counted since.
                self._state = self._create_new_state(stored, prev_state=self._state, notify=False)
            return self._state

    state = property(_state_synced_with_storage, pybreaker.CircuitBreaker.state.fset)

    def call(self, func, *args, **kwargs):
        # pybreaker holds the breaker lock for the whole guarded call, which would queue every
        # thread calling one provider config behind the slowest request. State changes take
        # the lock themselves and the half-open trial is guarded by claim_trial.
        return self.state.call(func, *args, **kwargs)

    def seconds_until_trial(self) -> float | None:
        opened_at = self._state_storage.opened_at
        if opened_at is None:
            return None
        remaining = opened_at.timestamp() + self.reset_timeout - time.time()
        return remaining if remaining > 0 else None


# --- configuration and the breaker board -------------------------------------------------

@dataclass(frozen=True)
class _Settings:
    fail_max: int = 5
    reset_timeout: float = 60.0
    retry_policy: RetryPolicy = RetryPolicy()
    sleep: Callable[[float], None] = time.sleep


_settings = _Settings()
_redis_client: redis.Redis | None = None
_breakers: dict[str, _SharedCircuitBreaker] = {}
_breakers_lock = threading.Lock()


def configure(*, redis_url: str | None, fail_max: int, reset_timeout: float, retry_policy: RetryPolicy,
              sleep: Callable[[float], None] = time.sleep) -> None:
    """Set the process-wide breaker and retry settings; call once at startup (and in tests)."""
    global _settings, _redis_client
    client = None
    if redis_url:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
                                      socket_timeout=_REDIS_TIMEOUT_SECONDS)
    with _breakers_lock:
        _settings = _Settings(fail_max=fail_max, reset_timeout=float(reset_timeout),
                              retry_policy=retry_policy, sleep=sleep)
        _redis_client = client
        # Breakers built with the previous settings must not outlive them.
        _breakers.clear()


def _is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and not exc.retryable


def _breaker_for(ctx: CallContext) -> _SharedCircuitBreaker:
    key = f"{BREAKER_KEY_PREFIX}:{ctx.provider}:{ctx.config_key}"
    with _breakers_lock:
        breaker = _breakers.get(key)
        if breaker is None:
            storage = (_SharedBreakerStorage(_redis_client, key) if _redis_client is not None
                       else _LocalBreakerStorage())
            breaker = _SharedCircuitBreaker(
                fail_max=_settings.fail_max, reset_timeout=_settings.reset_timeout,
                exclude=[_is_permanent], state_storage=storage, name=key,
                # The failure that trips the breaker is raised as itself: it carries the
                # provider's status and text, which a bare CircuitBreakerError would lose.
                throw_new_error_on_trip=False,
            )
            _breakers[key] = breaker
        return breaker


def breaker_state(ctx: CallContext) -> str:
    """The shared state as stored; an open breaker past its timeout half-opens on its next call."""
    return _breaker_for(ctx).current_state


def reset_breakers() -> None:
    """Forget every breaker, in this process and in Redis. For tests."""
    with _breakers_lock:
        _breakers.clear()
        client = _redis_client
    if client is not None:
        keys = list(client.scan_iter(match=f"{BREAKER_KEY_PREFIX}:*", count=500))
        if keys:
            client.delete(*keys)


# --- the call ----------------------------------------------------------------------------

def call_provider(ctx: CallContext, fn: Callable[[], T], *, policy: RetryPolicy | None = None,
                  observer: CallObserver | None = None) -> T:
    """Run `fn` (one provider request) inside the breaker and the retry policy."""
    settings = _settings
    policy = policy or settings.retry_policy
    breaker = _breaker_for(ctx)
    attempt_number = 0

    def attempt() -> T:
        nonlocal attempt_number
        attempt_number += 1
        started = time.perf_counter()
        try:
            result = breaker.call(fn)
        except pybreaker.CircuitBreakerError:
            refused = CircuitOpen(
                f"circuit breaker for {ctx.provider} config {ctx.config_key} is open; no request sent",
                provider=ctx.provider, retry_after=breaker.seconds_until_trial(), code="circuit_open")
            logger.info("provider call refused, breaker open: provider=%s config=%s operation=%s",
                        ctx.provider, ctx.config_key, ctx.operation)
            _report(ctx, observer, "circuit_open", time.perf_counter() - started, refused)
            raise refused from None
        except ProviderError as error:
            elapsed = time.perf_counter() - started
            _log_failed_attempt(ctx, error, attempt_number)
            _report(ctx, observer, "error" if error.retryable else "rejected", elapsed, error)
            raise
        _report(ctx, observer, "success", time.perf_counter() - started, None)
        return result

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=_backoff(policy),
        retry=retry_if_exception(lambda exc: _worth_retrying(exc, policy, breaker)),
        sleep=settings.sleep,
        reraise=True,
    )
    return retrying(attempt)


def _worth_retrying(exc: BaseException, policy: RetryPolicy, breaker: _SharedCircuitBreaker) -> bool:
    if not isinstance(exc, ProviderError) or not exc.retryable or isinstance(exc, CircuitOpen):
        return False
    if exc.retry_after is not None and exc.retry_after > policy.max_wait:
        # Waiting that long would hold a worker hostage; the task reschedules itself instead.
        return False
    # If this failure has just opened the breaker, the next attempt could only be refused.
    return breaker.current_state != pybreaker.STATE_OPEN


def _backoff(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    # Full jitter: uniform in [0, min(max_wait, initial_wait * 2 ** (attempt - 1))].
    jittered = wait_random_exponential(multiplier=policy.initial_wait, max=policy.max_wait)

    def wait(retry_state: RetryCallState) -> float:
        backoff = jittered(retry_state)
        error = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        return backoff if retry_after is None else max(retry_after, backoff)

    return wait


def _log_failed_attempt(ctx: CallContext, error: ProviderError, attempt_number: int) -> None:
    logger.warning(
        "provider call failed: provider=%s config=%s operation=%s attempt=%d status=%s "
        "retryable=%s error=%s: %s",
        ctx.provider, ctx.config_key, ctx.operation, attempt_number, error.status_code,
        error.retryable, type(error).__name__, redact(error.message),
    )


def _report(ctx: CallContext, observer: CallObserver | None, outcome: str, latency_seconds: float,
            error: ProviderError | None) -> None:
    metrics.observe_attempt(family=ctx.family, provider=ctx.provider, operation=ctx.operation,
                            outcome=outcome, latency_seconds=latency_seconds)
    if observer is None:
        return
    try:
        observer.on_attempt(ctx, outcome=outcome, latency_seconds=latency_seconds, error=error)
    except Exception:
        # Bookkeeping must not change the call's outcome: turning a delivered message into a
        # failure here would make the task send it again.
        logger.exception("call observer failed: provider=%s operation=%s outcome=%s",
                         ctx.provider, ctx.operation, outcome)
