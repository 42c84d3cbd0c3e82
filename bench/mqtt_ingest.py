"""MQTT ingest end to end: messages/second published, ingested and persisted, beside a bare
paho subscriber in the same run; and RFID scan -> reader response latency.

Run by hand, never in the test suite (PostgreSQL and Mosquitto up):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hub_bench_iot .venv/bin/python bench/mqtt_ingest.py

What it does, every process on this machine:
1. drops and recreates the database named in DATABASE_URL, migrates it, and creates a tenant
   (its slug is the topic prefix of this run), an active Ziggy config, a court, `--readers`
   RFID readers, `--tablets` tablets and one member with credits per scan;
2. starts the Ziggy sandbox as its own process, answering every call after 5 ms;
3. bare: a paho subscriber (QoS 1, MQTT 5, acknowledging as paho does) that only counts, and
   the same publisher sending `--heartbeats` QoS 1 messages: the broker's and paho's ceiling;
4. starts `manage.py mqtt_ingest` (its own process, `--workers` lanes), then:
   - heartbeats: the same `--heartbeats` messages as tablet status beats; done when every
     tablet's row holds its last beat (publish, ingest, coalesced UPDATE, commit);
   - scan burst: `--scans` scans as fast as the publisher goes; done when every reader answer
     arrived (each scan: ledger, Ziggy check-in, credit, session, outbox, answer);
   - scan latency: `--latency-scans` scans at `--scan-rate`/s, each timed from publish to the
     reader's answer arriving.
Targets: heartbeats >= 40 % of the bare QoS 1 rate; scan -> response p99 < 250 ms. Figures go
to stdout and bench/results/mqtt_ingest-<time>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_iot")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def recreate_database() -> None:
    import psycopg

    url = urlsplit(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = urlunsplit(url._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def start_sandbox() -> tuple[subprocess.Popen, str]:
    from tests.iot.mqtt_helpers import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.sandboxes.ziggy", "--port", str(port)], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    process.stdout.readline()  # "ZiggySandbox listening on ..."
    url = f"http://127.0.0.1:{port}"
    request = urllib.request.Request(f"{url}/__sandbox/faults", data=json.dumps({"delay": 0.005}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=5).read()
    return process, url


def build_world(*, readers: int, tablets: int, members: int, timeout_ms: int):
    from integrations.lifecycle import Status
    from integrations.secrets.services import secret_store
    from integrations.services.tenancy import tenant_create
    from iot.models import Court, Device, DeviceKind, Member, ZiggyIntegration
    from tests.sandboxes.ziggy import DEFAULT_API_KEY, DEFAULT_CLIENT_ID

    tenant = tenant_create(slug=f"bench{uuid.uuid4().hex[:8]}", name="Bench club")
    ZiggyIntegration.objects.create(
        tenant=tenant, family="access-control", provider="ziggy", display_name="Ziggy", client_id=DEFAULT_CLIENT_ID,
        api_key_ref=secret_store(tenant=tenant, name="ziggy-key", value=DEFAULT_API_KEY),
        api_base_url="https://ziggy.invalid", status=Status.ACTIVE.value)
    court = Court.objects.create(tenant=tenant, code="c1", name="Court 1")
    Device.objects.bulk_create(
        [Device(tenant=tenant, external_id=f"reader-{i}", kind=DeviceKind.RFID_READER, court=court,
                response_timeout_ms=timeout_ms) for i in range(readers)]
        + [Device(tenant=tenant, external_id=f"tablet-{i}", kind=DeviceKind.TABLET, court=court)
           for i in range(tablets)])
    Member.objects.bulk_create([Member(tenant=tenant, first_name=f"M{i}", rfid_card_id=f"C{i:07d}", credits=1)
                                for i in range(members)])
    return tenant


# Mosquitto keeps at most `max_queued_messages` (1000 by default) waiting for one subscriber
# beyond its in-flight window and silently drops the rest, so both consumers are fed through the
# same window: the publisher waits while more than this many are unconsumed.
WINDOW = 1500
RECEIVE_MAXIMUM = 1000  # the bare subscriber gets the ingester's in-flight window (MQTT_RECEIVE_MAXIMUM)


def publish_windowed(publisher, messages, consumed) -> None:
    for index, (topic, body) in enumerate(messages):
        if index % 250 == 0:
            while index - consumed() > WINDOW:
                time.sleep(0.005)
        publisher.client.publish(topic, body, qos=1)


def bare_rate(count: int, tablets: int) -> float:
    """The same publisher to a subscriber that only counts: messages/s, first publish to last receipt."""
    from tests.iot.mqtt_helpers import Listener, Publisher, unique

    prefix = unique("bare")
    done = threading.Event()
    received = [0]
    listener = Listener(f"{prefix}/tablet/+/status", receive_maximum=RECEIVE_MAXIMUM)

    def count_one(client, userdata, message) -> None:
        received[0] += 1
        if received[0] == count:
            done.set()

    listener.client.on_message = count_one
    publisher = Publisher()
    base = datetime.now(UTC) - timedelta(milliseconds=count)
    messages = [(f"{prefix}/tablet/tablet-{index % tablets}/status", _beat(index, base)) for index in range(count)]
    started = time.perf_counter()
    publish_windowed(publisher, messages, lambda: received[0])
    done.wait(300)
    elapsed = time.perf_counter() - started
    publisher.close()
    listener.close()
    assert received[0] == count, f"bare subscriber got {received[0]} of {count}"
    return count / elapsed


def _beat(index: int, base: datetime) -> bytes:
    ts = base + timedelta(milliseconds=index)
    return json.dumps({"battery": index % 100, "firmware": "2.0.0", "ts": ts.isoformat()}).encode()


def heartbeat_rate(tenant, ingester, *, count: int, tablets: int) -> float:
    from django.db import connection

    from iot.models import Device
    from tests.iot.mqtt_helpers import Publisher

    publisher = Publisher()
    base = datetime.now(UTC) - timedelta(milliseconds=count)  # every beat's time is past when it arrives
    messages = [(f"{tenant.slug}/tablet/tablet-{index % tablets}/status", _beat(index, base))
                for index in range(count)]
    last_ts = {f"tablet-{index % tablets}": base + timedelta(milliseconds=index) for index in range(count)}
    started = time.perf_counter()
    publish_windowed(publisher, messages,
                     lambda: ingester.metric("iot_mqtt_messages_total", kind="tablet_status", outcome="buffered"))
    while True:
        seen = dict(Device.objects.filter(tenant=tenant, kind="tablet").values_list("external_id", "last_seen_at"))
        if all(seen.get(tablet) and seen[tablet] >= ts for tablet, ts in last_ts.items()):
            break
        time.sleep(0.02)
        if time.perf_counter() - started > 300:
            behind = sum(1 for tablet, ts in last_ts.items() if not seen.get(tablet) or seen[tablet] < ts)
            raise RuntimeError(f"{behind} tablets never got their last beat")
    elapsed = time.perf_counter() - started
    publisher.close()
    connection.close()
    return count / elapsed


def scans(tenant, *, first_card: int, count: int, readers: int, rate: float | None) -> tuple[float, list[float]]:
    """Publish `count` scans (as fast as possible, or at `rate`/s); returns (scans/s, latencies ms)."""
    from tests.iot.mqtt_helpers import Listener, Publisher

    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    done = threading.Event()
    listener = Listener(f"{tenant.slug}/rfid/+/response")
    pending = {f"{tenant.slug}/rfid/reader-{i}/response": [] for i in range(readers)}
    lock = threading.Lock()

    def answered(client, userdata, message) -> None:
        now = time.perf_counter()
        with lock:
            # Each reader's answers come in the order of its scans (one lane per reader).
            queue = pending.get(message.topic)
            if not queue:
                return  # not an answer to one of our scans
            latencies.append((now - sent_at[queue.pop(0)]) * 1000)
            if len(latencies) == count:
                done.set()

    listener.client.on_message = answered
    publisher = Publisher()
    started = time.perf_counter()
    for index in range(count):
        reader = index % readers
        msg_id = f"scan-{first_card + index}"
        with lock:
            pending[f"{tenant.slug}/rfid/reader-{reader}/response"].append(msg_id)
            sent_at[msg_id] = time.perf_counter()
        publisher.client.publish(f"{tenant.slug}/rfid/reader-{reader}/scan",
                                 json.dumps({"msg_id": msg_id, "card_id": f"C{first_card + index:07d}"}), qos=1)
        if rate:
            time.sleep(max(0.0, started + (index + 1) / rate - time.perf_counter()))
    if not done.wait(600):
        raise RuntimeError(f"only {len(latencies)} of {count} answers arrived")
    elapsed = time.perf_counter() - started
    publisher.close()
    listener.close()
    return count / elapsed, latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heartbeats", type=int, default=20000)
    parser.add_argument("--tablets", type=int, default=200)
    parser.add_argument("--scans", type=int, default=1000)
    parser.add_argument("--latency-scans", type=int, default=300)
    parser.add_argument("--scan-rate", type=float, default=20.0, help="scans/s in the latency phase")
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    arguments = parser.parse_args()

    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sandbox, sandbox_url = start_sandbox()
    tenant = build_world(readers=arguments.readers, tablets=arguments.tablets,
                         members=arguments.scans + arguments.latency_scans, timeout_ms=60000)

    from tests.iot.mqtt_helpers import IngesterProcess, discard_session, unique

    results: dict = {"when": datetime.now(UTC).isoformat(), "arguments": vars(arguments),
                     "load_average": os.getloadavg()}
    results["bare_qos1_per_second"] = bare_rate(arguments.heartbeats, arguments.tablets)
    ingester = IngesterProcess(database=os.environ["DATABASE_URL"], client_id=unique("bench-"), group=unique("g"),
                               workers=arguments.workers,
                               env={"PROVIDER_ZIGGY_BASE_URL": sandbox_url, "IOT_HEARTBEAT_FLUSH_MS": "100",
                                    "DATABASE_CONN_MAX_AGE": "600"})
    try:
        ingester.start()
        pid = ingester.process.pid
        cpu = cpu_seconds(pid)
        results["heartbeats_per_second"] = heartbeat_rate(tenant, ingester, count=arguments.heartbeats,
                                                          tablets=arguments.tablets)
        results["ingester_cpu_ms_per_heartbeat"] = (cpu_seconds(pid) - cpu) * 1000 / arguments.heartbeats
        cpu = cpu_seconds(pid)
        burst_rate, burst_latencies = scans(tenant, first_card=0, count=arguments.scans, readers=arguments.readers,
                                            rate=None)
        results["ingester_cpu_ms_per_scan"] = (cpu_seconds(pid) - cpu) * 1000 / arguments.scans
        results["scan_burst_per_second"] = burst_rate
        results["scan_burst_p50_ms"] = statistics.median(burst_latencies)
        _, latencies = scans(tenant, first_card=arguments.scans, count=arguments.latency_scans,
                             readers=arguments.readers, rate=arguments.scan_rate)
        results["scan_latency_ms"] = {"p50": statistics.median(latencies), "p90": percentile(latencies, 0.9),
                                      "p99": percentile(latencies, 0.99), "max": max(latencies)}
        results["scan_outcomes"] = {
            outcome: ingester.metric("iot_mqtt_messages_total", kind="rfid_scan", outcome=outcome)
            for outcome in ("granted", "denied_unavailable", "denied_timeout", "duplicate", "malformed")}
    except Exception:
        _, body = ingester.get("/metrics")
        print("\n".join(line for line in body.decode().splitlines() if line.startswith("iot_")))
        raise
    finally:
        ingester.close()
        discard_session(ingester.client_id)
        sandbox.terminate()
    results["heartbeats_vs_bare"] = results["heartbeats_per_second"] / results["bare_qos1_per_second"]
    print(json.dumps(results, indent=2))
    print(f"\nbare QoS 1 subscriber   {results['bare_qos1_per_second']:8.0f} msg/s")
    print(f"heartbeats end to end   {results['heartbeats_per_second']:8.0f} msg/s "
          f"({results['heartbeats_vs_bare']:.0%} of bare; target >= 40%)")
    print(f"scans, burst            {results['scan_burst_per_second']:8.0f} scans/s")
    print(f"ingester CPU            {results['ingester_cpu_ms_per_heartbeat']:8.3f} ms/heartbeat, "
          f"{results['ingester_cpu_ms_per_scan']:.2f} ms/scan")
    latency = results["scan_latency_ms"]
    print(f"scan -> answer at {arguments.scan_rate:g}/s  p50 {latency['p50']:.1f} ms  p90 {latency['p90']:.1f} ms  "
          f"p99 {latency['p99']:.1f} ms (target p99 < 250 ms)")
    out = REPO_ROOT / "bench" / "results" / f"mqtt_ingest-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
