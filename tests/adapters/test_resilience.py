"""call_provider: retries, the circuit breaker (in memory and shared through real Redis), the
observer, metrics and logging. No test sleeps for real beyond a second or two."""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from statistics import mean

import pytest
import redis as redis_lib
from prometheus_client import REGISTRY

from adapters import resilience
from adapters.errors import (
    CircuitOpen,
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from adapters.redaction import register_secret
from adapters.resilience import CallContext, RetryPolicy, breaker_state, call_provider
from tests.adapters import ScriptedResponse, ScriptedServer
from tests.adapters.breaker_worker import BreakerWorker


class RecordingObserver:
    def __init__(self) -> None:
        self.attempts: list[tuple[str, ProviderError | None]] = []

    def on_attempt(self, ctx, *, outcome, latency_seconds, error) -> None:
        assert latency_seconds >= 0
        self.attempts.append((outcome, error))

    @property
    def outcomes(self) -> list[str]:
        return [outcome for outcome, _ in self.attempts]


class Scripted:
    """A provider call that plays the given outcomes in order: an exception is raised, anything
    else is returned. Counts how often it was really called."""

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        outcome = self.outcomes[min(self.calls, len(self.outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def unavailable(status: int = 503) -> ProviderUnavailable:
    return ProviderUnavailable(f"upstream said {status}", provider="acme", status_code=status)


def new_ctx(provider: str = "acme", family: str = "payment-gateways", operation: str = "send") -> CallContext:
    return CallContext(provider=provider, config_key=str(uuid.uuid4()), family=family, operation=operation)


class Resilience:
    """Configures adapters.resilience for one test, against memory or the real Redis."""

    def __init__(self, redis_url: str | None) -> None:
        self.redis_url = redis_url
        self.sleeps: list[float] = []

    def configure(self, *, fail_max: int = 100, reset_timeout: float = 60.0,
                  policy: RetryPolicy = RetryPolicy()) -> None:
        resilience.configure(redis_url=self.redis_url, fail_max=fail_max, reset_timeout=reset_timeout,
                             retry_policy=policy, sleep=self.sleeps.append)
        resilience.reset_breakers()


@pytest.fixture
def restore_resilience(monkeypatch):
    # monkeypatch puts the app's own configuration back after the test.
    monkeypatch.setattr(resilience, "_settings", resilience._settings)
    monkeypatch.setattr(resilience, "_redis_client", resilience._redis_client)
    yield
    resilience._breakers.clear()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def env(request, restore_resilience) -> Resilience:
    redis_url = os.environ.get("REDIS_URL") if request.param == "redis" else None
    if request.param == "redis" and not redis_url:
        pytest.fail("REDIS_URL is required for this test")
    configured = Resilience(redis_url)
    configured.configure()
    return configured


@pytest.fixture
def redis_env(redis_url, restore_resilience) -> Resilience:
    configured = Resilience(redis_url)
    configured.configure()
    return configured


# --- retries ------------------------------------------------------------------------------

def test_retryable_failures_are_retried_until_success(env):
    # given a provider that fails twice with 503, then answers
    env.configure(policy=RetryPolicy(attempts=3, initial_wait=0.5, max_wait=30))
    provider = Scripted(unavailable(), unavailable(), "sent")
    observer = RecordingObserver()

    # when
    result = call_provider(new_ctx(), provider, observer=observer)

    # then three attempts were made, with a jittered wait inside each doubling window
    assert result == "sent"
    assert provider.calls == 3
    assert observer.outcomes == ["error", "error", "success"]
    assert [type(error) for _, error in observer.attempts] == [ProviderUnavailable, ProviderUnavailable,
                                                               type(None)]
    assert len(env.sleeps) == 2
    assert 0 <= env.sleeps[0] <= 0.5
    assert 0 <= env.sleeps[1] <= 1.0


def test_backoff_windows_grow_exponentially_with_full_jitter(env):
    # given a policy of four attempts, initial wait 0.5 s, capped at 1.5 s
    policy = RetryPolicy(attempts=4, initial_wait=0.5, max_wait=1.5)
    env.configure(policy=policy)
    waits_by_retry: list[list[float]] = [[], [], []]

    # when 200 calls each fail three times before succeeding
    for _ in range(200):
        env.sleeps.clear()
        call_provider(new_ctx(), Scripted(unavailable(), unavailable(), unavailable(), "ok"))
        for retry, wait in enumerate(env.sleeps):
            waits_by_retry[retry].append(wait)

    # then each wait lies in its window [0, min(1.5, 0.5 * 2**n)] ...
    for waits, window in zip(waits_by_retry, (0.5, 1.0, 1.5)):
        assert len(waits) == 200
        assert all(0 <= wait <= window for wait in waits)
    # ... the windows grow: later waits reach beyond the earlier window and average longer ...
    assert max(waits_by_retry[1]) > 0.5
    assert max(waits_by_retry[2]) > 1.0
    assert mean(waits_by_retry[0]) < mean(waits_by_retry[1]) < mean(waits_by_retry[2])
    # ... and the waits are spread out rather than in lockstep
    assert len(set(waits_by_retry[0])) == 200


def test_rate_limited_call_waits_at_least_retry_after(env):
    # given a provider answering 429 with Retry-After: 2, then succeeding
    env.configure(policy=RetryPolicy(attempts=3, initial_wait=0.5, max_wait=30))
    provider = Scripted(ProviderRateLimited("slow down", provider="acme", status_code=429, retry_after=2.0), "ok")

    # when
    result = call_provider(new_ctx(), provider)

    # then the single wait honoured Retry-After (the jittered backoff was at most 0.5 s)
    assert result == "ok"
    assert provider.calls == 2
    assert env.sleeps == [2.0]


def test_retry_after_beyond_max_wait_is_raised_for_the_task_to_reschedule(env):
    # given a provider asking for a two-minute pause, longer than the policy's max wait
    env.configure(policy=RetryPolicy(attempts=3, max_wait=30))
    provider = Scripted(ProviderRateLimited("slow down", provider="acme", status_code=429, retry_after=120.0))

    # when / then the error is raised at once, with its retry_after intact
    with pytest.raises(ProviderRateLimited) as raised:
        call_provider(new_ctx(), provider)
    assert raised.value.retry_after == 120.0
    assert provider.calls == 1
    assert env.sleeps == []


@pytest.mark.parametrize("error", [
    ProviderRejected("invalid currency", provider="acme", status_code=422),
    ProviderAuthFailed("bad api key", provider="acme", status_code=401),
])
def test_permanent_error_is_attempted_exactly_once(env, error):
    env.configure(policy=RetryPolicy(attempts=5))
    provider = Scripted(error)
    observer = RecordingObserver()

    with pytest.raises(type(error)) as raised:
        call_provider(new_ctx(), provider, observer=observer)

    assert raised.value is error
    assert provider.calls == 1
    assert env.sleeps == []
    assert observer.attempts == [("rejected", error)]


def test_retries_stop_after_the_policy_attempts(env):
    env.configure(policy=RetryPolicy(attempts=3))
    provider = Scripted(unavailable(502))
    observer = RecordingObserver()

    with pytest.raises(ProviderUnavailable) as raised:
        call_provider(new_ctx(), provider, observer=observer)

    assert raised.value.status_code == 502
    assert provider.calls == 3
    assert len(env.sleeps) == 2
    assert observer.outcomes == ["error", "error", "error"]


def test_policy_passed_to_the_call_overrides_the_configured_one(env):
    env.configure(policy=RetryPolicy(attempts=5))
    provider = Scripted(unavailable())

    with pytest.raises(ProviderUnavailable):
        call_provider(new_ctx(), provider, policy=RetryPolicy(attempts=2))

    assert provider.calls == 2


# --- the breaker --------------------------------------------------------------------------

def test_programming_error_propagates_unchanged_and_is_not_a_provider_failure(env):
    # given a breaker that opens after two consecutive provider failures, one already counted
    env.configure(fail_max=2, policy=RetryPolicy(attempts=1))
    ctx = new_ctx()
    observer = RecordingObserver()
    with pytest.raises(ProviderUnavailable):
        call_provider(ctx, Scripted(unavailable()))
    bug = KeyError("amount")

    # when the adapter itself crashes
    with pytest.raises(KeyError) as raised:
        call_provider(ctx, Scripted(bug), observer=observer, policy=RetryPolicy(attempts=3))

    # then the very same exception surfaces, was not retried nor reported, and neither counted
    # as a failure (still closed) nor as a success (the earlier failure still counts)
    assert raised.value is bug
    assert env.sleeps == []
    assert observer.attempts == []
    assert breaker_state(ctx) == "closed"
    with pytest.raises(ProviderUnavailable):
        call_provider(ctx, Scripted(unavailable()))
    assert breaker_state(ctx) == "open"


def test_permanent_errors_never_open_the_breaker(env):
    env.configure(fail_max=2, policy=RetryPolicy(attempts=1))
    ctx = new_ctx()
    provider = Scripted(ProviderRejected("no such customer", provider="acme", status_code=404))

    for _ in range(5):
        with pytest.raises(ProviderRejected):
            call_provider(ctx, provider)

    assert provider.calls == 5
    assert breaker_state(ctx) == "closed"


def test_open_breaker_refuses_at_once_without_calling_the_provider(env):
    # given a breaker opened by two failures
    env.configure(fail_max=2, reset_timeout=60, policy=RetryPolicy(attempts=1))
    ctx = new_ctx()
    failing = Scripted(unavailable())
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            call_provider(ctx, failing)
    assert breaker_state(ctx) == "open"
    provider = Scripted("ok")
    observer = RecordingObserver()

    # when a call is made with a generous retry policy
    with pytest.raises(CircuitOpen) as raised:
        call_provider(ctx, provider, observer=observer, policy=RetryPolicy(attempts=5))

    # then the provider was not called, nothing was retried, and the caller learns when to retry
    assert provider.calls == 0
    assert env.sleeps == []
    assert observer.outcomes == ["circuit_open"]
    assert raised.value.retryable is True
    assert 59 < raised.value.retry_after <= 60


def test_the_failure_that_opens_the_breaker_ends_the_retries(env):
    env.configure(fail_max=2, policy=RetryPolicy(attempts=5))
    ctx = new_ctx()
    provider = Scripted(unavailable())

    with pytest.raises(ProviderUnavailable) as raised:
        call_provider(ctx, provider)

    assert raised.value.status_code == 503  # the provider's own error, not a bare CircuitOpen
    assert provider.calls == 2
    assert len(env.sleeps) == 1
    assert breaker_state(ctx) == "open"


def test_breakers_are_per_provider_config(env):
    env.configure(fail_max=1, policy=RetryPolicy(attempts=1))
    broken, healthy = new_ctx(), new_ctx()

    with pytest.raises(ProviderUnavailable):
        call_provider(broken, Scripted(unavailable()))

    assert breaker_state(broken) == "open"
    assert breaker_state(healthy) == "closed"
    assert call_provider(healthy, Scripted("ok")) == "ok"


def test_failed_trial_reopens_and_successful_trial_closes(env):
    env.configure(fail_max=1, reset_timeout=0.3, policy=RetryPolicy(attempts=3))
    ctx = new_ctx()
    with pytest.raises(ProviderUnavailable):
        call_provider(ctx, Scripted(unavailable()))

    # when the reset timeout has passed and the trial call fails
    time.sleep(0.35)
    still_failing = Scripted(unavailable())
    with pytest.raises(ProviderUnavailable):
        call_provider(ctx, still_failing)

    # then exactly one trial request was sent and the breaker is open again
    assert still_failing.calls == 1
    assert breaker_state(ctx) == "open"
    with pytest.raises(CircuitOpen):
        call_provider(ctx, Scripted("ok"))

    # and after another timeout a successful trial closes it
    time.sleep(0.35)
    assert call_provider(ctx, Scripted("ok")) == "ok"
    assert breaker_state(ctx) == "closed"


def test_only_one_trial_call_while_half_open(env):
    # given an open breaker whose reset timeout has passed
    env.configure(fail_max=1, reset_timeout=0.3, policy=RetryPolicy(attempts=1))
    ctx = new_ctx()
    with pytest.raises(ProviderUnavailable):
        call_provider(ctx, Scripted(unavailable()))
    time.sleep(0.35)
    trial_started, release_trial = threading.Event(), threading.Event()
    results: list[str] = []

    def slow_trial():
        trial_started.set()
        release_trial.wait(5)
        return "trial ok"

    trial = threading.Thread(target=lambda: results.append(call_provider(ctx, slow_trial)))
    trial.start()
    assert trial_started.wait(5)

    # when another caller arrives while the trial is in flight
    bystander = Scripted("ok")
    with pytest.raises(CircuitOpen):
        call_provider(ctx, bystander)

    # then it was refused without a request, and the trial's success closes the breaker
    release_trial.set()
    trial.join(5)
    assert bystander.calls == 0
    assert results == ["trial ok"]
    assert breaker_state(ctx) == "closed"


@pytest.mark.redis
def test_opened_at_keeps_subsecond_precision_in_redis(redis_env, redis_url):
    # pybreaker stores whole seconds, which can half-open a 1 s breaker almost at once
    redis_env.configure(fail_max=1, reset_timeout=1.0, policy=RetryPolicy(attempts=1))
    ctx = new_ctx()
    # open it late in a wall-clock second, where truncating to whole seconds hurts most
    time.sleep((0.7 - time.time() % 1) % 1)
    with pytest.raises(ProviderUnavailable):
        call_provider(ctx, Scripted(unavailable()))

    with pytest.raises(CircuitOpen) as raised:
        call_provider(ctx, Scripted("ok"))

    assert 0.8 < raised.value.retry_after <= 1.0
    stored = redis_lib.Redis.from_url(redis_url).get(f"hub:breaker:acme:{ctx.config_key}:opened_at")
    assert abs(float(stored) - time.time()) < 1.0


# --- observer, metrics, logs --------------------------------------------------------------

def test_metrics_count_each_attempt_with_its_labels(env):
    env.configure(policy=RetryPolicy(attempts=2))
    ctx = new_ctx(provider=f"metrics-{uuid.uuid4().hex[:8]}", family="communication", operation="send")

    def sample(name: str, outcome: str) -> float:
        labels = {"family": "communication", "provider": ctx.provider, "operation": "send", "outcome": outcome}
        return REGISTRY.get_sample_value(name, labels) or 0.0

    call_provider(ctx, Scripted(unavailable(), "ok"))
    with pytest.raises(ProviderRejected):
        call_provider(ctx, Scripted(ProviderRejected("bad phone number", provider="acme", status_code=400)))

    assert sample("integration_requests_total", "success") == 1
    assert sample("integration_requests_total", "error") == 1
    assert sample("integration_requests_total", "rejected") == 1
    assert sample("integration_errors_total", "success") == 0
    assert sample("integration_errors_total", "error") == 1
    assert sample("integration_errors_total", "rejected") == 1
    assert sample("integration_request_duration_seconds_count", "success") == 1
    assert sample("integration_request_duration_seconds_count", "error") == 1


def test_a_failing_observer_does_not_change_the_outcome(env):
    class BrokenObserver:
        def on_attempt(self, ctx, **kwargs):
            raise RuntimeError("usage table locked")

    env.configure()
    provider = Scripted("sent")

    assert call_provider(new_ctx(), provider, observer=BrokenObserver()) == "sent"
    assert provider.calls == 1


def test_failed_attempts_are_logged_as_warnings_without_secrets(env, caplog):
    secret = "sk_live_51HkT9fakeSecretValue"
    register_secret(secret)
    env.configure(policy=RetryPolicy(attempts=1))
    ctx = new_ctx(operation="charge")
    error = ProviderUnavailable(f"gateway echoed key {secret}", provider="acme", status_code=502)

    with caplog.at_level(logging.WARNING, logger="adapters.resilience"):
        with pytest.raises(ProviderUnavailable):
            call_provider(ctx, Scripted(error))

    [record] = [r for r in caplog.records if r.name == "adapters.resilience"]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "provider=acme" in message and "operation=charge" in message and "status=502" in message
    assert secret not in message
    assert "[REDACTED]" in message


# --- the breaker shared by separate processes through Redis ------------------------------

@pytest.fixture
def workers(redis_url):
    """Starts worker processes that share one provider server and one breaker key."""
    started: list[BreakerWorker] = []
    config_key = str(uuid.uuid4())
    with ScriptedServer() as server:
        def start(*, fail_max: int = 3, reset_timeout: float = 1.0) -> BreakerWorker:
            worker = BreakerWorker(redis_url=redis_url, base_url=server.base_url, config_key=config_key,
                            fail_max=fail_max, reset_timeout=reset_timeout)
            started.append(worker)
            return worker

        start.server = server
        yield start
        for worker in started:
            worker.close()


@pytest.mark.redis
def test_breaker_opened_by_one_process_refuses_calls_in_another(workers):
    server = workers.server
    server.response = ScriptedResponse(status=503, body=b"maintenance")
    # Both processes start first: a slow start of B must not eat into the reset timeout.
    process_a = workers(fail_max=3, reset_timeout=3.0)
    process_b = workers(fail_max=3, reset_timeout=3.0)
    assert process_a.hello == {"ready": True, "django_loaded": False}

    # given process A fails fail_max times against the provider
    failures = [process_a.send("call") for _ in range(3)]
    assert [f["outcome"] for f in failures] == ["ProviderUnavailable"] * 3
    assert [f["status"] for f in failures] == [503, 503, 503]
    assert failures[-1]["state"] == "open"
    assert server.hits == 3

    # when process B, which has not called yet, calls the same provider config
    refused = process_b.send("call")

    # then it is refused by the shared breaker and no request reached the provider
    assert refused["outcome"] == "CircuitOpen"
    assert 0 < refused["retry_after"] <= 3.0
    assert server.hits == 3

    # when the provider recovers and the reset timeout passes
    server.response = ScriptedResponse(status=200)
    time.sleep(3.1)
    trial = process_b.send("call")

    # then B's trial call succeeds, and A, which last saw the breaker open, sees it closed
    assert trial == {"outcome": "success", "status": 200, "state": "closed"}
    assert process_a.send("state") == {"state": "closed"}
    assert process_a.send("call")["outcome"] == "success"
    assert server.hits == 5


@pytest.mark.redis
def test_a_process_catching_up_on_a_closed_breaker_keeps_failures_others_counted(workers):
    # given A saw the breaker open, then B closed it with a successful trial
    server = workers.server
    server.response = ScriptedResponse(status=503)
    process_a = workers(fail_max=3, reset_timeout=0.5)
    for _ in range(3):
        process_a.send("call")
    process_b = workers(fail_max=3, reset_timeout=0.5)
    time.sleep(0.6)
    server.response = ScriptedResponse(status=200)
    assert process_b.send("call")["state"] == "closed"

    # when B counts two fresh failures and then A, still caching "open", fails once
    server.response = ScriptedResponse(status=503)
    assert [process_b.send("call")["state"] for _ in range(2)] == ["closed", "closed"]
    third_failure = process_a.send("call")

    # then A's failure is the third in a row and opens the breaker for everyone
    assert third_failure["outcome"] == "ProviderUnavailable"
    assert third_failure["state"] == "open"
    assert process_b.send("call")["outcome"] == "CircuitOpen"
