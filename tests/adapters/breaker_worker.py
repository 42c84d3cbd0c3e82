"""A separate worker process for the shared-breaker tests.

It configures `adapters.resilience` with the Redis URL, as a Celery worker would, then reads
commands from stdin and answers each with one JSON line on stdout:

- `call`  one GET through ProviderHttpClient inside call_provider (no in-call retries);
- `state` the breaker state this process sees;
- `quit`.

Staying alive between commands matters: it keeps the process's cached breaker, so the test
also proves that a process notices state changes other processes made. `BreakerWorker` is the
test's side: it starts one such process and drives it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from adapters.errors import ProviderError
from adapters.http import ProviderHttpClient
from adapters.resilience import CallContext, RetryPolicy, breaker_state, call_provider, configure

REPO_ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--provider", required=True)
    parser.add_argument("--config-key", required=True)
    parser.add_argument("--fail-max", type=int, required=True)
    parser.add_argument("--reset-timeout", type=float, required=True)
    args = parser.parse_args()

    configure(redis_url=args.redis_url, fail_max=args.fail_max, reset_timeout=args.reset_timeout,
              retry_policy=RetryPolicy(attempts=1))
    ctx = CallContext(provider=args.provider, config_key=args.config_key, family="test",
                      operation="ping")
    client = ProviderHttpClient(args.provider, args.base_url, timeout=5.0)

    _answer({"ready": True, "django_loaded": "django" in sys.modules})
    for line in sys.stdin:
        command = line.strip()
        if command == "call":
            _answer(_call(ctx, client))
        elif command == "state":
            _answer({"state": breaker_state(ctx)})
        elif command == "quit":
            break
        else:
            _answer({"unknown_command": command})
    client.close()


def _call(ctx: CallContext, client: ProviderHttpClient) -> dict:
    try:
        response = call_provider(ctx, lambda: client.request("GET", "/v1/ping"))
    except ProviderError as error:
        return {"outcome": type(error).__name__, "status": error.status_code,
                "retry_after": error.retry_after, "state": breaker_state(ctx)}
    return {"outcome": "success", "status": response.status_code, "state": breaker_state(ctx)}


def _answer(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


class BreakerWorker:
    """One worker process, driven a command at a time."""

    def __init__(self, *, redis_url: str, base_url: str, config_key: str, fail_max: int,
                 reset_timeout: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--redis-url", redis_url, "--base-url", base_url,
             "--provider", "acme", "--config-key", config_key, "--fail-max", str(fail_max),
             "--reset-timeout", str(reset_timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        self.hello = self._read()

    def send(self, command: str) -> dict:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        assert line, f"worker exited with {self.process.poll()}"
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait(10)


if __name__ == "__main__":
    main()
