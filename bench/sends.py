"""Email sends under load: acceptance latency through the API, delivery throughput by Celery.

Run by hand, never in the test suite:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hub_bench_sends \\
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/sends.py

What it does, every process on this machine:
1. drops and recreates the database named in DATABASE_URL, migrates it, and creates a tenant,
   an API key and an active SendGrid config (validated through the API like a tenant would);
2. starts the SendGrid sandbox as its own process (it checks every request against
   SendGrid's published description), gunicorn (gthread, persistent database connections)
   and two Celery workers on the Redis broker, which at first consume an idle queue only;
3. no-op phase: queues `--emails` no-op tasks, lets both workers consume, and times them;
4. acceptance phase: `--clients` threads with keep-alive connections POST `--emails` emails
   (each with its own Idempotency-Key) to /api/v1/communication/sendgrid/emails/ and record
   the latency of every 202; deliveries pile up in the broker meanwhile;
5. delivery phase: lets both workers consume, and times until every email is `sent`
   (first consume to the last `sent_at`), then checks the sandbox got each one exactly once.
The phases run one after another so each figure is measured on an otherwise idle machine.
Targets: delivered/s >= 50 % of the no-op tasks/s; acceptance p99 < 50 ms. The figures go to
stdout and bench/results/sends-<time>.json, with our processes' CPU per unit (gunicorn, the
workers, the sandbox, our PostgreSQL backends) and the bounds that CPU cost puts on each figure.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from celery import shared_task

REPO_ROOT = Path(__file__).resolve().parents[1]
NOOP_COUNTER = "hub:bench:noop-done"
IDLE_QUEUE = "bench-idle"
WORK_QUEUE = "celery"
_redis = None


@shared_task(name="bench.noop")
def noop() -> None:
    """The baseline: a task that does nothing but say it ran (one Redis INCR)."""
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    _redis.incr(NOOP_COUNTER)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{name} did not listen on {port} within {timeout} s")


def _recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO_ROOT, check=True)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(sessions: dict[str, set[int]], database: str) -> dict[str, float]:
    """CPU time (user + system) used so far, per component: each named group of our sessions
    (gunicorn, the workers with their pool, the sandbox) and the PostgreSQL backends serving
    our database. Redis is shared with others on this machine and left out."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                       [database])
        backends = {row[0] for row in cursor.fetchall()}
    totals = dict.fromkeys([*sessions, "postgres"], 0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        session, ticks = int(fields[3]), int(fields[11]) + int(fields[12])
        if int(entry.name) in backends:
            totals["postgres"] += ticks
        for name, ids in sessions.items():
            if session in ids:
                totals[name] += ticks
    return {name: ticks / CLOCK_TICKS for name, ticks in totals.items()}


class Phase:
    """Wall time, our CPU time per component and the machine's load over one phase."""

    def __init__(self, processes: "Processes", database: str) -> None:
        self.processes, self.database = processes, database

    def __enter__(self) -> "Phase":
        self.cpu = _cpu_seconds(self.processes.sessions(), self.database)
        self.load = os.getloadavg()[0]
        return self

    def __exit__(self, *exc_info) -> None:
        after = _cpu_seconds(self.processes.sessions(), self.database)
        self.cpu = {name: after[name] - self.cpu.get(name, 0) for name in after}

    def report(self, units: int) -> dict:
        total = sum(self.cpu.values())
        return {"our_cpu_ms_per_unit": round(1000 * total / units, 2),
                "cpu_ms_per_unit_by_process": {name: round(1000 * seconds / units, 2)
                                               for name, seconds in self.cpu.items()},
                "load_average_at_start": round(self.load, 2)}


class Processes:
    """The processes this run started; stopped by their own ids, never by name."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[subprocess.Popen] = []
        self.groups: dict[str, set[int]] = {}

    def start(self, name: str, argv: list[str], env: dict, *, group: str) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.started.append(process)
        self.groups.setdefault(group, set()).add(process.pid)  # its session id is its pid
        return process

    def sessions(self) -> dict[str, set[int]]:
        return self.groups

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _setup_tenant(api_url: str) -> tuple[str, str]:
    """A tenant, an API key, and an active SendGrid config made through the API."""
    import httpx

    from integrations.services.tenancy import api_key_create, tenant_create

    tenant = tenant_create(slug="bench", name="Bench Federation")
    _, key = api_key_create(tenant=tenant, name="bench", scopes=["*"])
    headers = {"Authorization": f"Api-Key {key}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=30) as client:
        from tests.sandboxes.sendgrid import DEFAULT_API_KEY

        ref = client.post("/api/v1/secrets/", json={"name": "sendgrid-key", "value": DEFAULT_API_KEY}).json()["ref"]
        config = client.post("/api/v1/communication/sendgrid/configs/", json={
            "display_name": "SendGrid", "api_key_ref": ref, "from_email": "noreply@federation.example",
            "sandbox_mode": False}).json()
        run = client.post(f"/api/v1/communication/sendgrid/configs/{config['id']}/validate/").json()
        if not run.get("passed"):
            raise SystemExit(f"validation failed: {run}")
        client.post(f"/api/v1/communication/sendgrid/configs/{config['id']}/activate/").raise_for_status()
    return key, config["id"]


def _consume(app, queue: str, workers: list[str], *, start: bool) -> None:
    replies = (app.control.add_consumer(queue, destination=workers, reply=True) if start else
               app.control.cancel_consumer(queue, destination=workers, reply=True))
    if len(replies) != len(workers):
        raise SystemExit(f"not every worker answered the consumer change: {replies}")


def _wait_workers(app, workers: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = {name for reply in app.control.ping(destination=workers, timeout=0.5) for name in reply}
        if answered >= set(workers):
            return
    raise SystemExit("the Celery workers did not answer")


def _noop_phase(app, workers: list[str], count: int) -> dict:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.delete(NOOP_COUNTER)
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task("bench.noop", queue=WORK_QUEUE, producer=producer)
    started = time.perf_counter()
    _consume(app, WORK_QUEUE, workers, start=True)
    while int(client.get(NOOP_COUNTER) or 0) < count:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    _consume(app, WORK_QUEUE, workers, start=False)
    return {"tasks": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed, 1)}


def _acceptance_phase(api_url: str, key: str, count: int, clients: int) -> dict:
    import httpx

    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    per_client = [count // clients + (1 if n < count % clients else 0) for n in range(clients)]

    def run(share: int, client_number: int) -> None:
        with httpx.Client(base_url=api_url, headers={"Authorization": f"Api-Key {key}"}, timeout=30) as http:
            for n in range(share):
                body = {"to": [{"email": f"player{client_number}-{n}@club.example", "name": "Player"}],
                        "subject": "Club Open: your first match", "body_text": "See you on Saturday at 09:30."}
                started = time.perf_counter()
                response = http.post("/api/v1/communication/sendgrid/emails/", json=body,
                                     headers={"Idempotency-Key": str(uuid.uuid4())})
                elapsed = time.perf_counter() - started
                with lock:
                    (latencies.append(elapsed) if response.status_code == 202 else
                     failures.append(f"{response.status_code} {response.text[:200]}"))

    threads = [threading.Thread(target=run, args=(share, n)) for n, share in enumerate(per_client)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} sends were refused, e.g. {failures[:3]}")
    ordered = sorted(latencies)
    return {"requests": len(ordered), "clients": clients, "seconds": round(elapsed, 3),
            "per_second": round(len(ordered) / elapsed, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2)}


def _delivery_phase(app, workers: list[str], count: int, sandbox_url: str) -> dict:
    import httpx
    from django.db.models import Max

    from communication.models import EmailMessage

    started_wall = time.time()
    started = time.perf_counter()
    _consume(app, WORK_QUEUE, workers, start=True)
    while EmailMessage.objects.filter(status="sent").count() < count:
        if EmailMessage.objects.filter(status="failed").exists():
            raise SystemExit("an email failed; see the worker logs")
        time.sleep(0.1)
    polled = time.perf_counter() - started
    last_sent = EmailMessage.objects.aggregate(last=Max("sent_at"))["last"].timestamp()
    elapsed = last_sent - started_wall
    state = httpx.get(f"{sandbox_url}/__sandbox/state").json()
    if state["mails"] != count or state["violations"]:
        raise SystemExit(f"the sandbox saw {state['mails']} mails for {count} emails: {state['violations'][:3]}")
    return {"emails": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed, 1),
            "polled_seconds": round(polled, 3), "sandbox_mails": state["mails"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--gunicorn-threads", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=4, help="processes per Celery worker")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp/hub-bench-sends"))
    arguments = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        raise SystemExit("set DATABASE_URL (PostgreSQL, a database this run may drop) and REDIS_URL")
    arguments.log_dir.mkdir(parents=True, exist_ok=True)
    sandbox_port, api_port = _free_port(), _free_port()
    env = os.environ | {
        "CELERY_BROKER_URL": redis_url, "CELERY_TASK_ALWAYS_EAGER": "false", "DATABASE_CONN_MAX_AGE": "600",
        "PROVIDER_SENDGRID_BASE_URL": f"http://127.0.0.1:{sandbox_port}", "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO_ROOT)}
    os.environ.update(env)
    sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    _recreate_database(database_url)

    import django
    import httpx

    django.setup()
    from config.celery import app

    app.control.purge()
    processes = Processes(arguments.log_dir)
    bin_dir = Path(sys.executable).parent
    try:
        sandbox = processes.start("sendgrid-sandbox", [sys.executable, "-m", "tests.sandboxes.sendgrid", "--port",
                                                       str(sandbox_port), "--max-recorded", "100"], env,
                                  group="sandbox")
        gunicorn = processes.start("gunicorn", [
            str(bin_dir / "gunicorn"), "config.wsgi:application", "-b", f"127.0.0.1:{api_port}", "-k", "gthread",
            "-w", str(arguments.gunicorn_workers), "--threads", str(arguments.gunicorn_threads),
            "--keep-alive", "75", "--log-level", "warning"], env, group="gunicorn")
        workers = [f"bench-{n}@{socket.gethostname()}" for n in (1, 2)]
        for name in workers:
            processes.start(name.split("@")[0], [
                str(bin_dir / "celery"), "-A", "config", "worker", "--include", "bench.sends", "-Q", IDLE_QUEUE,
                "-n", name, "--pool", "prefork", "--concurrency", str(arguments.worker_concurrency),
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"], env,
                group="celery_workers")
        _wait_for_port(sandbox_port, sandbox, "the SendGrid sandbox")
        _wait_for_port(api_port, gunicorn, "gunicorn")
        _wait_workers(app, workers)
        api_url = f"http://127.0.0.1:{api_port}"
        key, _ = _setup_tenant(api_url)
        httpx.post(f"http://127.0.0.1:{sandbox_port}/__sandbox/reset").raise_for_status()  # forget validation

        database = urlsplit(database_url).path.lstrip("/")
        with Phase(processes, database) as phase:
            noop_result = _noop_phase(app, workers, arguments.emails)
        noop_result |= phase.report(arguments.emails)
        with Phase(processes, database) as phase:
            acceptance = _acceptance_phase(api_url, key, arguments.emails, arguments.clients)
        acceptance |= phase.report(arguments.emails)
        with Phase(processes, database) as phase:
            delivery = _delivery_phase(app, workers, arguments.emails, f"http://127.0.0.1:{sandbox_port}")
        delivery |= phase.report(arguments.emails)
    finally:
        processes.stop_all()
        app.control.purge()
    cpus = os.cpu_count() or 1
    results = {"cpus": cpus, "noop": noop_result, "acceptance": acceptance, "delivery": delivery,
               "delivered_vs_noop": round(delivery["per_second"] / noop_result["per_second"], 3),
               # What the CPU cost per unit allows on this machine, however the work is scheduled:
               # closed-loop clients wait, on average, clients x CPU per request / CPUs once
               # the CPUs are saturated (Little's law); a rate cannot exceed CPUs / CPU per unit.
               "cpu_bounds": {
                   "acceptance_mean_latency_floor_ms": round(
                       arguments.clients * acceptance["our_cpu_ms_per_unit"] / cpus, 1),
                   "delivered_per_second_ceiling": round(cpus * 1000 / delivery["our_cpu_ms_per_unit"], 1),
                   "noop_per_second_ceiling": round(cpus * 1000 / noop_result["our_cpu_ms_per_unit"], 1),
                   "delivered_vs_noop_ceiling": round(noop_result["our_cpu_ms_per_unit"]
                                                      / delivery["our_cpu_ms_per_unit"], 3)},
               "targets_met": {"delivered_at_least_half_of_noop":
                               delivery["per_second"] >= 0.5 * noop_result["per_second"],
                               "acceptance_p99_under_50_ms": acceptance["p99_ms"] < 50}}
    results["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    out = REPO_ROOT / "bench" / "results" / f"sends-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
