"""The MQTT ingester: one paho-mqtt 2 client (MQTT 5) feeding `telemetry_ingest`.

- Persistent session: `clean_start=False` with a Session Expiry Interval, under a stable client
  id, so the broker keeps the subscriptions and queues QoS 1 messages while the ingester is
  down (Mosquitto queues at most `max_queued_messages` per session, 1000 by default: raise it
  for long outages) and re-sends the unacknowledged ones when it returns.
- Shared subscriptions (`$share/<group>/...`): ingesters in the same group split the messages.
- Manual acknowledgement: a message is acknowledged only after its effects committed (for
  heartbeats, after the coalesced write holding it), so a crash re-delivers it; the ledger
  makes the second delivery change nothing.
- Ordering: messages are spread over IOT_INGEST_WORKERS lanes by the device (or court) they
  come from, so one device's messages are handled in order while devices proceed in parallel.
  Acknowledgements may therefore go out of receive order, which brokers accept.
- Reconnects with a bounded exponential backoff (1 s doubling to MQTT_RECONNECT_MAX_SECONDS).
- `stop()` (SIGTERM) stops taking messages, lets the lanes finish what they hold, flushes the
  heartbeats, acknowledges, and disconnects; what arrives meanwhile stays unacknowledged and
  comes back to the next session.
"""
from __future__ import annotations

import json
import logging
import queue
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import connection
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from iot import metrics
from iot.services.heartbeats import heartbeat_buffer
from iot.services.telemetry import telemetry_ingest
from iot.topics import TenantPrefixes, subscription_filters

logger = logging.getLogger(__name__)
_STOP = object()
_DATABASE_RETRY_MAX_SECONDS = 5.0


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int
    tls: bool
    username: str
    password: str
    ca_file: str
    client_id: str
    shared_group: str
    prefixes: TenantPrefixes
    session_expiry_seconds: int
    receive_maximum: int
    keepalive_seconds: int
    reconnect_max_seconds: int

    @classmethod
    def from_settings(cls, *, client_id: str | None = None) -> BrokerSettings:
        url = urlsplit(settings.MQTT_BROKER_URL)
        if url.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError("MQTT_BROKER_URL must be mqtt://host:port or mqtts://host:port")
        tls = url.scheme in ("mqtts", "ssl")
        return cls(host=url.hostname or "127.0.0.1", port=url.port or (8883 if tls else 1883), tls=tls,
                   username=settings.MQTT_USERNAME or unquote(url.username or ""),
                   password=settings.MQTT_PASSWORD or unquote(url.password or ""),
                   ca_file=settings.MQTT_TLS_CA_FILE, client_id=client_id or settings.MQTT_CLIENT_ID,
                   shared_group=settings.MQTT_SHARED_GROUP, prefixes=TenantPrefixes(settings.MQTT_TENANT_PREFIXES),
                   session_expiry_seconds=settings.MQTT_SESSION_EXPIRY_SECONDS,
                   receive_maximum=settings.MQTT_RECEIVE_MAXIMUM, keepalive_seconds=settings.MQTT_KEEPALIVE_SECONDS,
                   reconnect_max_seconds=settings.MQTT_RECONNECT_MAX_SECONDS)


@dataclass(frozen=True)
class _Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: datetime


class MqttIngester:
    def __init__(self, broker: BrokerSettings, *, workers: int | None = None,
                 handler: Callable = telemetry_ingest) -> None:
        self.broker = broker
        self._handler = handler
        self._workers = max(1, workers or settings.IOT_INGEST_WORKERS)
        self._lanes = [queue.Queue() for _ in range(self._workers)]
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._connected = threading.Event()
        self.client = self._build_client()

    # --- state, for the health server ---------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # --- lifecycle ----------------------------------------------------------------------------

    def run(self) -> None:
        """Connect and handle messages until `stop()`; returns after a clean shutdown."""
        for index, lane in enumerate(self._lanes):
            thread = threading.Thread(target=self._work, args=(lane,), name=f"ingest-lane-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        flusher = threading.Thread(target=self._flush_heartbeats, name="heartbeat-flusher", daemon=True)
        flusher.start()
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=self.broker.keepalive_seconds,
                                  clean_start=False, properties=self._connect_properties())
        self.client.loop_start()
        self._stopping.wait()
        self._shutdown(flusher)

    def stop(self) -> None:
        self._stopping.set()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    def _shutdown(self, flusher: threading.Thread) -> None:
        logger.info("ingester stopping: finishing messages in hand")
        for lane in self._lanes:
            lane.put(_STOP)
        deadline = time.monotonic() + settings.IOT_INGEST_DRAIN_SECONDS
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        flusher.join(max(0.0, deadline - time.monotonic()))
        try:
            heartbeat_buffer().flush()
        except DatabaseError:
            logger.warning("final heartbeat flush failed; those beats come back with the next session")
        self.client.disconnect()
        self.client.loop_stop()
        metrics.mqtt_connected.set(0)
        self._stopped.set()
        logger.info("ingester stopped")

    # --- the client ---------------------------------------------------------------------------

    def _build_client(self) -> paho.Client:
        client = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id=self.broker.client_id,
                             protocol=paho.MQTTv5, manual_ack=True)
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password or None)
        if self.broker.tls:
            client.tls_set(ca_certs=self.broker.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(min_delay=1, max_delay=self.broker.reconnect_max_seconds)
        client.max_inflight_messages_set(100)  # our own QoS 1 answers to readers
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _connect_properties(self) -> Properties:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.broker.session_expiry_seconds
        properties.ReceiveMaximum = self.broker.receive_maximum
        return properties

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.error("MQTT broker refused the connection", extra={"reason": str(reason_code)})
            return
        filters = subscription_filters(prefixes=self.broker.prefixes, shared_group=self.broker.shared_group)
        # Subscribing again is harmless when the session kept the subscriptions.
        client.subscribe([(topic_filter, SubscribeOptions(qos=1)) for topic_filter in filters])
        self._connected.set()
        metrics.mqtt_connected.set(1)
        logger.info("connected to the MQTT broker", extra={"session_present": bool(flags.session_present),
                                                           "client_id": self.broker.client_id,
                                                           "filters": len(filters)})

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            logger.error("MQTT broker refused subscriptions", extra={"reasons": ",".join(refused)})

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        metrics.mqtt_connected.set(0)
        if not self._stopping.is_set():
            logger.warning("disconnected from the MQTT broker; reconnecting", extra={"reason": str(reason_code)})

    def _on_message(self, client, userdata, message) -> None:
        if self._stopping.is_set():
            return  # left unacknowledged: the broker gives it to the next session
        try:
            topic = message.topic
        except UnicodeDecodeError:
            metrics.mqtt_malformed_total.labels("unknown").inc()
            self._ack(message.mid, message.qos)
            return
        received = _Received(topic=topic, payload=bytes(message.payload), mid=message.mid, qos=message.qos,
                             received_at=datetime.now(UTC))
        self._lanes[zlib.crc32(_lane_key(topic).encode()) % self._workers].put(received)

    # --- handling -----------------------------------------------------------------------------

    def _work(self, lane: queue.Queue) -> None:
        try:
            while True:
                item = lane.get()
                if item is _STOP:
                    return
                self._handle(item)
        finally:
            connection.close()

    def _handle(self, item: _Received) -> None:
        failures = 0
        while True:
            try:
                result = self._handler(topic=item.topic, payload=item.payload, received_at=item.received_at)
                break
            except DatabaseError as exc:
                # The database is down or the connection broke: keep the message and try again;
                # it is acknowledged only once handled.
                connection.close()
                failures += 1
                metrics.mqtt_handling_failures_total.labels(_kind(item.topic), exc.__class__.__name__).inc()
                if failures == 1:
                    logger.warning("database error while handling an MQTT message; retrying",
                                   extra={"topic": item.topic, "error": exc.__class__.__name__})
                if self._stopping.wait(min(0.1 * 2 ** failures, _DATABASE_RETRY_MAX_SECONDS)):
                    return
            except Exception as exc:  # a bug must not stop the ingester nor loop on one message forever
                metrics.mqtt_handling_failures_total.labels(_kind(item.topic), exc.__class__.__name__).inc()
                logger.exception("MQTT message could not be handled; dropped", extra={"topic": item.topic})
                self._ack(item.mid, item.qos)
                return
        for reply in result.replies:
            self.client.publish(reply.topic, json.dumps(reply.payload, separators=(",", ":")), qos=1)
        if result.committed is None:
            self._ack(item.mid, item.qos)
        else:
            result.committed.add_done_callback(lambda done: self._ack(item.mid, item.qos))

    def _ack(self, mid: int, qos: int) -> None:
        if qos > 0:
            self.client.ack(mid, qos)

    def _flush_heartbeats(self) -> None:
        interval = settings.IOT_HEARTBEAT_FLUSH_MS / 1000
        buffer = heartbeat_buffer()
        try:
            while not self._stopping.wait(interval):
                try:
                    buffer.flush()
                except DatabaseError:
                    connection.close()  # the next flush reconnects; the beats were kept
        finally:
            connection.close()


def _lane_key(topic: str) -> str:
    """The device (or court) a message comes from: its messages share a lane, in order."""
    levels = topic.split("/")
    for index, level in enumerate(levels[:-1]):
        if level in ("court", "tablet", "rfid"):
            return "/".join(levels[: index + 2])
    return topic


def _kind(topic: str) -> str:
    from iot.topics import TopicNotRecognised, parse_topic

    try:
        return parse_topic(topic, prefixes=TenantPrefixes(settings.MQTT_TENANT_PREFIXES)).kind.value
    except TopicNotRecognised:
        return "unknown"
