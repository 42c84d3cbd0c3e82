"""Builders of a tenant's court world: an active Ziggy config against the sandbox, a court, its
devices and members. They write through the ORM (the API is tested on its own)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from integrations.lifecycle import Status
from iot.models import Court, Device, DeviceKind, Member, ZiggyIntegration
from iot.services.access_control import access_integrations_forget
from iot.services.directory import directory_clear
from iot.services.heartbeats import heartbeat_buffer


@dataclass
class CourtWorld:
    tenant: object
    ziggy: ZiggyIntegration
    court: Court
    reader: Device

    def member(self, card_id: str, *, credits: int = 5, **fields) -> Member:
        defaults = {"first_name": "Ana", "last_name": "Souza", "is_active": True}
        return Member.objects.create(tenant=self.tenant, rfid_card_id=card_id, credits=credits,
                                     **(defaults | fields))

    def device(self, external_id: str, kind: str = DeviceKind.TABLET, **fields) -> Device:
        return Device.objects.create(tenant=self.tenant, external_id=external_id, kind=kind, court=self.court,
                                     **fields)


def active_ziggy(tenant, *, api_key_ref: str, client_id: str, **fields) -> ZiggyIntegration:
    defaults = {"display_name": "Ziggy (club)", "provider": "ziggy", "family": "access-control",
                "client_id": client_id, "api_key_ref": api_key_ref, "api_base_url": "https://ziggy.invalid",
                "status": Status.ACTIVE.value, "last_validated_at": timezone.now(), "last_validation_passed": True}
    return ZiggyIntegration.objects.create(tenant=tenant, **(defaults | fields))


@pytest.fixture(autouse=True)
def _fresh_iot_state():
    directory_clear()
    access_integrations_forget()
    heartbeat_buffer().discard()
    yield
    directory_clear()
    access_integrations_forget()


@pytest.fixture
def court_world(tenant, ziggy_sandbox, store_secret) -> CourtWorld:
    ziggy = active_ziggy(tenant, api_key_ref=store_secret("ziggy-key", ziggy_sandbox.api_key),
                         client_id=ziggy_sandbox.client_id)
    court = Court.objects.create(tenant=tenant, code="court-7", name="Court 7", ziggy_court_id="z-court-7")
    reader = Device.objects.create(tenant=tenant, external_id="reader-7", kind=DeviceKind.RFID_READER, court=court,
                                   response_timeout_ms=2000)
    return CourtWorld(tenant=tenant, ziggy=ziggy, court=court, reader=reader)


def scan_payload(card_id: str, msg_id: str, **extra) -> bytes:
    return json.dumps({"msg_id": msg_id, "card_id": card_id, **extra}).encode()


def now() -> datetime:
    return datetime.now(UTC)


def post_webhook(client, capture, *, provider: str, config, body: bytes, headers: dict):
    """POST a signed provider webhook to the config's URL and run its handling (after commit)."""
    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()
            if name.lower() != "content-type"}
    with capture(execute=True):
        return client.post(f"/webhooks/{provider}/{config.pk}/", data=body, content_type="application/json", **meta)
