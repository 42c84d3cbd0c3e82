"""`python manage.py mqtt_ingest`: run the MQTT ingester until SIGTERM or Ctrl-C (iot/mqtt.py)."""
from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from iot.ingest_health import HealthServer
from iot.mqtt import BrokerSettings, MqttIngester


class Command(BaseCommand):
    help = "Subscribe to the court devices' MQTT topics and handle every message (QoS 1, acknowledged once committed)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--client-id", help="MQTT client id; stable per ingester (default MQTT_CLIENT_ID)")
        parser.add_argument("--workers", type=int, help="parallel lanes (default IOT_INGEST_WORKERS)")
        parser.add_argument("--health-port", type=int, help="port of /readyz and /metrics; 0 turns it off "
                                                              "(default IOT_INGEST_HEALTH_PORT)")

    def handle(self, *args, client_id=None, workers=None, health_port=None, **options) -> None:
        ingester = MqttIngester(BrokerSettings.from_settings(client_id=client_id), workers=workers)
        port = settings.IOT_INGEST_HEALTH_PORT if health_port is None else health_port
        health = HealthServer(host=settings.IOT_INGEST_HEALTH_HOST, port=port,
                              mqtt_connected=lambda: ingester.connected).start() if port else None
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: ingester.stop())
        self.stdout.write(f"mqtt_ingest: {ingester.broker.host}:{ingester.broker.port} as {ingester.broker.client_id}"
                          + (f", health on :{health.port}" if health else ""))
        try:
            ingester.run()
        finally:
            if health is not None:
                health.stop()
