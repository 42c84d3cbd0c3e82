"""Inbound webhook throughput: the hub's path against a bare DRF insert and django-anymail.

Run by hand (never in the test suite), with PostgreSQL and Redis up and `wrk` installed
(`apt-get install wrk`) and django-anymail in the venv (`.venv/bin/pip install django-anymail`;
the bench's baseline only, not a runtime dependency):

    .venv/bin/python bench/webhooks.py [--duration 5] [--rounds 3] [--workers 4] [--gunicorn-threads 4]

One gunicorn (bench.settings: the hub plus the baselines) serves every scenario, with
persistent database connections; wrk drives 16 connections with pre-signed requests, each
event unique, so every request takes the full verify -> store path. Scenarios:

  drf-bare          (a) DRF APIView, no auth, one INSERT per request
  anymail-sendgrid  (b) anymail's SendGrid tracking view (signed webhook key), 1 event/request
  anymail-mailgun   (b) anymail's Mailgun tracking view, 1 event/request
  hub-stripe        Stripe-signed single events (HMAC-SHA256)
  hub-sendgrid      SendGrid-signed single events (ECDSA P-256), as in (b)
  hub-mailgun       Mailgun-signed single events, as in (b)
  hub-sendgrid-x10  SendGrid-signed batches of 10 events

Results (the median of the interleaved rounds) go to stdout and bench/results/webhooks.json.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_hooks")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("WEBHOOK_CONFIG_CACHE_SECONDS", "30")

PORT = 8791
CONNECTIONS = 16
SEPARATOR = b"\n--8<--bench-request--8<--\n"
MAILGUN_KEY = "bench-mailgun-signing-key"
STRIPE_SECRET = "whsec_bench_stripe_endpoint_secret"


def sendgrid_keys():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private_key = ec.generate_private_key(ec.SECP256R1())
    der = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_key, base64.b64encode(der).decode()


def seed(public_key: str) -> dict[str, str]:
    """Migrate and create the bench tenant's receiving configs; returns their URL paths."""
    import django

    django.setup()
    from django.core.management import call_command

    from integrations.lifecycle import Status
    from integrations.models import PaymentGatewayIntegration, Tenant
    from integrations.secrets.services import secret_store
    from webhooks.models import WebhookSource

    call_command("migrate", run_syncdb=True, verbosity=0)
    tenant, _ = Tenant.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    stripe = PaymentGatewayIntegration.objects.create(
        tenant=tenant, family="payment-gateways", provider="stripe", display_name="bench", status=Status.ACTIVE,
        webhook_signing_key_ref=secret_store(tenant=tenant, name="bench-stripe", value=STRIPE_SECRET))
    sendgrid = WebhookSource.objects.create(
        tenant=tenant, family="communication", provider="sendgrid", display_name="bench", status=Status.ACTIVE,
        webhook_signing_key_ref=secret_store(tenant=tenant, name="bench-sendgrid", value=public_key))
    mailgun = WebhookSource.objects.create(
        tenant=tenant, family="communication", provider="mailgun", display_name="bench", status=Status.ACTIVE,
        webhook_signing_key_ref=secret_store(tenant=tenant, name="bench-mailgun", value=MAILGUN_KEY))
    return {"stripe": f"/webhooks/stripe/{stripe.pk}/", "sendgrid": f"/webhooks/sendgrid/{sendgrid.pk}/",
            "mailgun": f"/webhooks/mailgun/{mailgun.pk}/"}


def raw_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{PORT}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *[f"{name}: {value}" for name, value in headers.items()]]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sendgrid_event(run: str, n: int) -> dict:
    return {"email": "member@example.com", "timestamp": int(time.time()), "event": "delivered",
            "sg_event_id": f"{run}-{n}", "sg_message_id": f"msg{n}.filter0001.1234.5678", "response": "250 OK",
            "smtp-id": f"<{n}@example.com>", "category": ["bench"]}


def sign_sendgrid(private_key, body: bytes, timestamp: int) -> dict[str, str]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signature = private_key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp)}


def mailgun_body(run: str, n: int, timestamp: int) -> bytes:
    token = hashlib.sha256(f"{run}-{n}".encode()).hexdigest()[:50]
    digest = hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({
        "signature": {"timestamp": str(timestamp), "token": token, "signature": digest},
        "event-data": {"id": f"{run}-{n}", "timestamp": timestamp, "log-level": "info", "event": "delivered",
                       "recipient": "member@example.com", "message": {"headers": {"message-id": f"{n}@example.com"}},
                       "delivery-status": {"code": 250, "message": "OK"}, "flags": {}, "tags": ["bench"]},
    }).encode()


def build_requests(scenario: str, paths: dict, private_key, count: int) -> list[bytes]:
    run = uuid.uuid4().hex[:12]
    now = int(time.time())
    requests = []
    for n in range(count):
        if scenario == "drf-bare":
            requests.append(raw_request("/bench/drf/", json.dumps(sendgrid_event(run, n)).encode(), {}))
        elif scenario in ("hub-sendgrid", "anymail-sendgrid", "hub-sendgrid-x10"):
            size = 10 if scenario.endswith("x10") else 1
            body = json.dumps([sendgrid_event(run, n * size + i) for i in range(size)]).encode()
            path = "/anymail/sendgrid/tracking/" if scenario.startswith("anymail") else paths["sendgrid"]
            requests.append(raw_request(path, body, sign_sendgrid(private_key, body, now)))
        elif scenario in ("hub-mailgun", "anymail-mailgun"):
            path = "/anymail/mailgun/tracking/" if scenario.startswith("anymail") else paths["mailgun"]
            requests.append(raw_request(path, mailgun_body(run, n, now), {}))
        elif scenario == "hub-stripe":
            body = json.dumps({"id": f"evt_{run}{n}", "object": "event", "type": "payment_intent.succeeded",
                               "created": now, "livemode": False,
                               "data": {"object": {"id": f"pi_{run}{n}", "object": "payment_intent",
                                                   "amount": 25000, "currency": "sek", "status": "succeeded"}}})
            digest = hmac.new(STRIPE_SECRET.encode(), f"{now}.".encode() + body.encode(), hashlib.sha256).hexdigest()
            requests.append(raw_request(paths["stripe"], body.encode(), {"Stripe-Signature": f"t={now},v1={digest}"}))
    return requests


def run_wrk(requests: list[bytes], duration: int, threads: int, workdir: Path) -> dict:
    request_file = workdir / "requests.bin"
    request_file.write_bytes(SEPARATOR.join(requests))
    command = ["wrk", f"-t{threads}", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency", "--timeout", "5s",
               "-s", str(ROOT / "bench" / "wrk_requests.lua"), f"http://127.0.0.1:{PORT}", "--",
               str(request_file), str(threads)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    try:
        return parse_wrk(output)
    except (KeyError, AttributeError):
        raise SystemExit(f"cannot read wrk's output:\n{output}") from None


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(output: str) -> dict:
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    total = re.search(r"(\d+) requests in", output)
    return {"requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p50_ms": _ms(latency["50"]), "p99_ms": _ms(latency["99"]), "requests": int(total.group(1)),
            "non_2xx": int(errors.group(1)) if errors else 0, "wrapped": "WRAPPED" in output}


def cpu_per_request(paths: dict, private_key, count: int = 1000) -> dict[str, float]:
    """Process CPU per request (milliseconds, every thread of this process counted), each
    scenario's requests run one after another through Django's test client in this process.
    Less exposed to other load on the machine than the HTTP figures, which are the target."""
    from django.test import Client

    client = Client()
    figures = {}
    for scenario in SCENARIOS:
        parsed = []
        for raw in build_requests(scenario, paths, private_key, count + 100):
            head, body = raw.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            headers = {"HTTP_" + name.upper().replace("-", "_"): value
                       for name, value in (line.split(": ", 1) for line in lines[1:])
                       if name.lower() not in ("host", "content-type", "content-length")}
            parsed.append((lines[0].split()[1], body, headers))
        for path, body, headers in parsed[:100]:  # warm caches and connections
            client.post(path, data=body, content_type="application/json", **headers)
        started = time.process_time()
        for path, body, headers in parsed[100:]:
            response = client.post(path, data=body, content_type="application/json", **headers)
            assert response.status_code == 200, (scenario, response.status_code)
        figures[scenario] = (time.process_time() - started) * 1000 / count
        print(f"cpu {scenario:18} {figures[scenario]:6.3f} ms/request", flush=True)
    return figures


def wait_until_serving(timeout: float = 60.0) -> None:
    """Block until every gunicorn worker has booted far enough to answer /healthz."""
    import urllib.request

    deadline = time.monotonic() + timeout
    answered = 0
    while answered < 20:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=5) as response:
                answered += response.status == 200
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start serving") from None
            time.sleep(0.2)


SCENARIOS = ["drf-bare", "anymail-sendgrid", "anymail-mailgun", "hub-stripe", "hub-sendgrid", "hub-mailgun",
             "hub-sendgrid-x10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--requests", type=int, default=30000, help="pre-signed requests per scenario")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gunicorn-threads", type=int, default=4, help="threads per gunicorn worker (gthread)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")

    private_key, public_key = sendgrid_keys()
    os.environ.update(BENCH_SENDGRID_PUBLIC_KEY=public_key, BENCH_MAILGUN_SIGNING_KEY=MAILGUN_KEY,
                      CELERY_BROKER_URL=os.environ["REDIS_URL"])
    paths = seed(public_key)
    cpu = cpu_per_request(paths, private_key)
    env = {**os.environ, "BENCH_SENDGRID_PUBLIC_KEY": public_key, "BENCH_MAILGUN_SIGNING_KEY": MAILGUN_KEY,
           "CELERY_BROKER_URL": os.environ["REDIS_URL"], "PYTHONWARNINGS": "ignore"}
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{PORT}", "-w", str(args.workers),
         "-k", "gthread", "--threads", str(args.gunicorn_threads),
         "--access-logfile", "-" if os.environ.get("BENCH_ACCESS_LOG") else "/dev/null", "--log-level", "warning"],
        cwd=ROOT, env=env)
    rounds: dict[str, list[dict]] = {scenario: [] for scenario in SCENARIOS}
    try:
        wait_until_serving()
        with tempfile.TemporaryDirectory() as tmp:
            # Scenarios are interleaved over several rounds and the median round is kept, so a
            # burst of other load on the machine does not land on one scenario only.
            for round_number in range(args.rounds):
                for scenario in SCENARIOS:
                    warm = build_requests(scenario, paths, private_key, 1000)
                    run_wrk(warm, 1, args.threads, Path(tmp))
                    count = args.requests // (4 if scenario.endswith("x10") else 1)
                    result = run_wrk(build_requests(scenario, paths, private_key, count), args.duration,
                                     args.threads, Path(tmp))
                    result["events_per_second"] = result["requests_per_second"] * (
                        10 if scenario.endswith("x10") else 1)
                    rounds[scenario].append(result)
                    print(f"round {round_number + 1} {scenario:18} {result['requests_per_second']:8.0f} req/s "
                          f"p99 {result['p99_ms']:6.2f} ms", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    results = {scenario: sorted(runs, key=lambda r: r["requests_per_second"])[len(runs) // 2]
               for scenario, runs in rounds.items()}
    print(f"{'scenario (median round)':26} {'req/s':>8} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>8}")
    for scenario, result in results.items():
        print(f"{scenario:26} {result['requests_per_second']:8.0f} {result['events_per_second']:9.0f} "
              f"{result['p50_ms']:7.2f} {result['p99_ms']:7.2f} {result['non_2xx']:8}"
              f"{'  (request file wrapped)' if result['wrapped'] else ''}")
    bare, single, batch = results["drf-bare"], results["hub-sendgrid"], results["hub-sendgrid-x10"]
    ratios = {
        "hub-stripe / drf-bare": results["hub-stripe"]["requests_per_second"] / bare["requests_per_second"],
        "hub-sendgrid / drf-bare": single["requests_per_second"] / bare["requests_per_second"],
        "hub-sendgrid / anymail-sendgrid": single["requests_per_second"]
        / results["anymail-sendgrid"]["requests_per_second"],
        "hub-mailgun / anymail-mailgun": results["hub-mailgun"]["requests_per_second"]
        / results["anymail-mailgun"]["requests_per_second"],
        "hub-sendgrid-x10 events / hub-sendgrid events": batch["events_per_second"] / single["events_per_second"],
    }
    for name, value in ratios.items():
        print(f"{name:48} {value:5.2f}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    report = {"results": results, "rounds": rounds, "ratios": ratios, "cpu_ms_per_request": cpu, "args": vars(args)}
    (out / "webhooks.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
