"""Real-broker helpers for the ingester tests and the benchmark: `manage.py mqtt_ingest` as a
subprocess against the test database, and small paho publishers and subscribers.

Every test uses its own tenant slug (the topic prefix), shared-subscription group and client
ids, so parallel runs on the same Mosquitto never see each other's messages handled twice, and
the ingester's persistent session is removed when the test ends.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parents[2]
BROKER_URL = os.environ.get("MQTT_BROKER_URL", "mqtt://127.0.0.1:1883")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _broker() -> tuple[str, int]:
    url = urlsplit(BROKER_URL)
    return url.hostname or "127.0.0.1", url.port or 1883


def database_url(settings_dict: dict) -> str:
    """The URL of the database Django is using now (pytest-django's test_<name>)."""
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


class IngesterProcess:
    """`manage.py mqtt_ingest` in a subprocess; `kill()` is SIGKILL (a crash), `stop()` SIGTERM."""

    def __init__(self, *, database: str, client_id: str, group: str, env: dict | None = None, workers: int = 8):
        self.client_id = client_id
        self.health_port = free_port()
        self.env = {**os.environ, "DATABASE_URL": database, "MQTT_BROKER_URL": BROKER_URL,
                    "MQTT_SHARED_GROUP": group, "MQTT_TENANT_PREFIXES": "slug", "MQTT_SESSION_EXPIRY_SECONDS": "120",
                    "CELERY_TASK_ALWAYS_EAGER": "true", "LOG_LEVEL": "WARNING", "IOT_HEARTBEAT_FLUSH_MS": "50",
                    **(env or {})}
        self.workers = workers
        self.process: subprocess.Popen | None = None
        # A file, not a pipe: nobody reads a pipe while the test runs, and an ingester blocked
        # on a full pipe (64 KB of warnings) would look like an ingester that stopped handling.
        self.log = tempfile.NamedTemporaryFile(prefix="mqtt_ingest-", suffix=".log", delete=False)

    def start(self, *, ready_timeout: float = 30.0, wait_for: str = "/readyz") -> IngesterProcess:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "mqtt_ingest", "--client-id", self.client_id, "--workers",
             str(self.workers), "--health-port", str(self.health_port)],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mqtt_ingest exited: {self.log_tail()}")
            if self.get(wait_for)[0] == 200:
                return self
            time.sleep(0.05)
        raise RuntimeError("mqtt_ingest did not become ready")

    def log_tail(self, size: int = 3000) -> str:
        return Path(self.log.name).read_text(errors="replace")[-size:]

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=2) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 0, b""

    def ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def metric(self, name: str, **labels) -> float:
        status, body = self.get("/metrics")
        if status != 200:
            return 0.0
        wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        for line in body.decode().splitlines():
            if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(f"{name} ")):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 20.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def discard_session(client_id: str) -> None:
    """Connect once with clean start and no expiry: the broker forgets the session."""
    client = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=paho.MQTTv5)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0
    host, port = _broker()
    client.connect(host, port, clean_start=True, properties=properties)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


class Publisher:
    def __init__(self) -> None:
        self.client = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id=unique("pub-"),
                                  protocol=paho.MQTTv5)
        self.client.max_inflight_messages_set(200)
        host, port = _broker()
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, topic: str, payload, *, qos: int = 1, wait: bool = False):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self.client.publish(topic, body, qos=qos)
        if wait:
            info.wait_for_publish(10)
        return info

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Listener:
    """Collects messages on a topic filter: (topic, decoded JSON, monotonic arrival time)."""

    def __init__(self, topic_filter: str, *, receive_maximum: int = 0) -> None:
        self.messages: queue.Queue = queue.Queue()
        self._subscribed = queue.Queue()
        self.client = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id=unique("sub-"),
                                  protocol=paho.MQTTv5)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, json.loads(m.payload), time.monotonic()))
        self.client.on_subscribe = lambda *args: self._subscribed.put(True)
        host, port = _broker()
        properties = None
        if receive_maximum:
            properties = Properties(PacketTypes.CONNECT)
            properties.ReceiveMaximum = receive_maximum
        self.client.connect(host, port, properties=properties)
        self.client.loop_start()
        self.client.subscribe(topic_filter, qos=1)
        self._subscribed.get(timeout=5)

    def next(self, timeout: float = 10.0):
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(condition, *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
