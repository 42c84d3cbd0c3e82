"""Sync push throughput and memory: invoices pushed to a local Fortnox sandbox.

Run by hand, never in the test suite (PostgreSQL up):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hub_bench_sync .venv/bin/python bench/sync.py \\
        [--sizes 1000,10000,50000]

What it does:
1. creates the database named in DATABASE_URL if missing and migrates it;
2. starts the Fortnox sandbox as its own process (so its memory is not ours), which checks each
   invoice (customer, BAS accounts) as the adapter's tests do;
3. for each size, in a fresh Python process: seeds that many invoices (two lines on every
   other one) for a new tenant, then runs one sync run of scope `invoices` in-process, exactly
   as a Celery worker would (`sync_run_execute`), timing it and sampling the process's
   resident memory every 20 ms; the seeding happens before the baseline sample, so the figure
   is what the run itself adds;
4. checks the sandbox holds exactly `size` new invoices, and writes the figures to stdout and
   bench/results/sync-<time>.json.
Memory must stay flat as the size grows: the engine reads rows in chunks (`.iterator()`),
looks up one chunk of the sync log at a time, and keeps no list of all rows.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_sync")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.pop("REDIS_URL", None)  # the run is called in-process; breakers stay per process
os.environ.pop("CELERY_BROKER_URL", None)
SAMPLE_SECONDS = 0.02
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


class PeakSampler(threading.Thread):
    """The highest resident set size seen while running, sampled off the main thread."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = rss_bytes()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, rss_bytes())

    def stop(self) -> int:
        self.stopped.set()
        self.join()
        return max(self.peak, rss_bytes())


def ensure_database() -> None:
    import psycopg

    target = urlsplit(os.environ["DATABASE_URL"])
    name = target.path.lstrip("/")
    admin = urlunsplit(target._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            connection.execute(f'create database "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=REPO_ROOT, check=True)


def start_sandbox(port: int) -> subprocess.Popen:
    sandbox = subprocess.Popen([sys.executable, "-m", "tests.sandboxes.fortnox", "--port", str(port),
                                "--max-recorded", "100"], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    line = sandbox.stdout.readline()
    if "listening" not in line:
        raise RuntimeError(f"the sandbox did not start: {line!r}")
    return sandbox


def child(size: int, sandbox_url: str) -> dict:
    """One measured run in this (fresh) process."""
    os.environ["PROVIDER_FORTNOX_BASE_URL"] = sandbox_url
    import django

    django.setup()
    import httpx

    from integrations.services.tenancy import tenant_create
    from sync.models import RunTrigger, SyncRun
    from sync.services.runs import sync_run_execute
    from tests.sandboxes.fortnox import DEFAULT_ACCESS_TOKEN
    from tests.sync.factories import accounting_integration

    tenant = tenant_create(slug=f"bench-{size}-{time.time_ns()}", name="Bench Federation")
    integration = accounting_integration(tenant, "fortnox", access_token=DEFAULT_ACCESS_TOKEN,
                                         mapping={"license_fees": "3010", "tournament_fees": "3020"})
    seed(tenant, size)
    before = httpx.get(f"{sandbox_url}/__sandbox/state").json()["invoices"]
    run = SyncRun.objects.create(tenant=tenant, integration=integration, scope="invoices", trigger=RunTrigger.API,
                                 started_by="bench")
    baseline = rss_bytes()
    sampler = PeakSampler()
    sampler.start()
    started = time.perf_counter()
    finished = sync_run_execute(run_id=run.pk)
    elapsed = time.perf_counter() - started
    peak = sampler.stop()
    after = httpx.get(f"{sandbox_url}/__sandbox/state").json()["invoices"]
    return {"size": size, "state": finished.state, "created": finished.created_count,
            "failed": finished.failed_count, "at_sandbox": after - before, "seconds": round(elapsed, 2),
            "invoices_per_second": round(size / elapsed, 1), "baseline_rss_mb": round(baseline / 2**20, 1),
            "peak_rss_mb": round(peak / 2**20, 1), "run_added_mb": round((peak - baseline) / 2**20, 1)}


def seed(tenant, size: int, batch: int = 2000) -> None:
    """`size` invoices over 12 customers; bulk inserts, so seeding stays quick at 50,000."""
    from datetime import date
    from decimal import Decimal

    from sync.models import Invoice, InvoiceLine

    for start in range(1, size + 1, batch):
        numbers = range(start, min(start + batch, size + 1))
        invoices = Invoice.objects.bulk_create([Invoice(
            tenant=tenant, number=f"INV-{n:06d}", customer_number=str(100 + n % 12), customer_name=f"Klubb {n % 12}",
            issue_date=date(2026, 3, 1), due_date=date(2026, 3, 31), currency="SEK") for n in numbers])
        lines = []
        for n, invoice in zip(numbers, invoices, strict=True):
            lines.append(InvoiceLine(invoice=invoice, position=1, description="Licensavgift", category="license_fees",
                                     quantity=Decimal("1"), unit_price=Decimal("450.00"), vat_rate=Decimal("0")))
            if n % 2 == 0:
                lines.append(InvoiceLine(invoice=invoice, position=2, description="Seriespel",
                                         category="tournament_fees", quantity=Decimal("2"),
                                         unit_price=Decimal("1200.00"), vat_rate=Decimal("25")))
        InvoiceLine.objects.bulk_create(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--port", type=int, default=8935)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sandbox-url", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(child(arguments.child, arguments.sandbox_url)), flush=True)
        return
    ensure_database()
    sandbox = start_sandbox(arguments.port)
    url = f"http://127.0.0.1:{arguments.port}"
    results = []
    try:
        for size in (int(s) for s in arguments.sizes.split(",")):
            output = subprocess.run([sys.executable, __file__, "--child", str(size), "--sandbox-url", url],
                                    cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout
            result = json.loads(output.strip().splitlines()[-1])
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    out = REPO_ROOT / "bench" / "results" / f"sync-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"runs": results, "load_average": os.getloadavg()}, indent=2) + "\n")
    print("\n| invoices | seconds | invoices/s | RSS before run MB | peak RSS MB | added by the run MB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['size']:,} | {r['seconds']} | {r['invoices_per_second']} | {r['baseline_rss_mb']} | "
              f"{r['peak_rss_mb']} | {r['run_added_mb']} |")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
