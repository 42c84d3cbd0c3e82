"""The ingester's own tiny HTTP server: /healthz (alive), /readyz (connected to the broker and
the database answers) and /metrics (this process's Prometheus metrics, which the web
process's /metrics cannot see)."""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import connection
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:  # a readiness probe reports any failure as not ready
        return False
    finally:
        connection.close()  # each request runs in its own thread; never leave its connection behind


class HealthServer:
    def __init__(self, *, host: str, port: int, mqtt_connected: Callable[[], bool]) -> None:
        mqtt_ok = mqtt_connected

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                if self.path == "/healthz":
                    self._send(200, {"status": "ok"})
                elif self.path == "/readyz":
                    checks = {"mqtt": {"ok": mqtt_ok()}, "database": {"ok": _database_ok()}}
                    ready = all(check["ok"] for check in checks.values())
                    self._send(200 if ready else 503, {"status": "ok" if ready else "unavailable", "checks": checks})
                elif self.path == "/metrics":
                    body = generate_latest()
                    self.send_response(200)
                    self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self._send(404, {"status": "not found"})

            def _send(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args) -> None:
                pass  # probes every few seconds would drown the log

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="ingest-health", daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        logger.info("ingester health server listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
