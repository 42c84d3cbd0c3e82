"""Who is speaking on a topic: tenant prefixes and device ids resolved through a short-lived
in-process cache, so the hot paths (heartbeats) cost no query per message.

Entries live settings.IOT_DEVICE_REGISTRY_CACHE_SECONDS; misses are remembered for a fifth of
that, so a flood from an unregistered device costs one query per few seconds, while a device
registered through the API is found within seconds. A device moved to another court, or a
court renamed in Ziggy, is seen within the TTL (the API clears this process's cache at once).
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings

from integrations.models import Tenant
from iot.models import Court, Device

_MISS = object()
_MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class DeviceRef:
    pk: uuid.UUID
    tenant_id: uuid.UUID
    external_id: str
    kind: str
    court_id: uuid.UUID | None


@dataclass(frozen=True)
class CourtRef:
    pk: uuid.UUID
    tenant_id: uuid.UUID
    code: str


class Lookup(Exception):
    """Why a topic's subject could not be resolved: `reason` is unknown or ambiguous.
    `tenant_unknown`: the topic's tenant prefix is not one of ours (another deployment's?)."""

    def __init__(self, reason: str, what: str, *, tenant_unknown: bool = False) -> None:
        super().__init__(f"{what}: {reason}")
        self.reason = reason
        self.what = what
        self.tenant_unknown = tenant_unknown


class _TtlCache:
    def __init__(self) -> None:
        self._entries: dict = {}
        self._lock = threading.Lock()

    def get(self, key):
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key, value, *, miss: bool = False) -> None:
        ttl = settings.IOT_DEVICE_REGISTRY_CACHE_SECONDS / (5 if miss else 1)
        with self._lock:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()  # bounded: ids invented by a misbehaving device cannot grow it
            self._entries[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _TtlCache()


def directory_clear() -> None:
    """Forget every cached entry (tests; after a bulk re-registration that must apply at once)."""
    _cache.clear()


def _cached(key, load):
    found = _cache.get(key)
    if found is None:
        value = load()
        _cache.put(key, _MISS if value is None else value, miss=value is None)
        return value
    return None if found is _MISS else found


def tenant_id_for_slug(slug: str) -> uuid.UUID:
    found = _cached(("tenant", slug), lambda: Tenant.objects.filter(slug=slug, is_active=True)
                    .values_list("pk", flat=True).first())
    if found is None:
        raise Lookup("unknown", f"tenant prefix '{slug}'", tenant_unknown=True)
    return found


def _device_ref(device: Device) -> DeviceRef:
    return DeviceRef(pk=device.pk, tenant_id=device.tenant_id, external_id=device.external_id, kind=device.kind,
                     court_id=device.court_id)


def device_in_tenant(tenant_id: uuid.UUID, external_id: str) -> DeviceRef:
    def load():
        device = Device.objects.filter(tenant_id=tenant_id, external_id=external_id).first()
        return _device_ref(device) if device else None

    found = _cached(("device", tenant_id, external_id), load)
    if found is None:
        raise Lookup("unknown", f"device '{external_id}'")
    return found


def device_anywhere(external_id: str) -> DeviceRef:
    """The one device with this id across tenants (bare topics)."""
    def load():
        devices = list(Device.objects.filter(external_id=external_id, tenant__is_active=True)[:2])
        return tuple(_device_ref(device) for device in devices) or None

    found = _cached(("device-any", external_id), load)
    if found is None:
        raise Lookup("unknown", f"device '{external_id}'")
    if len(found) > 1:
        raise Lookup("ambiguous", f"device '{external_id}'")
    return found[0]


def court_in_tenant(tenant_id: uuid.UUID, code: str) -> CourtRef:
    def load():
        court = Court.objects.filter(tenant_id=tenant_id, code=code, is_active=True).first()
        return CourtRef(pk=court.pk, tenant_id=court.tenant_id, code=court.code) if court else None

    found = _cached(("court", tenant_id, code), load)
    if found is None:
        raise Lookup("unknown", f"court '{code}'")
    return found


def court_anywhere(code: str) -> CourtRef:
    def load():
        courts = list(Court.objects.filter(code=code, is_active=True, tenant__is_active=True)[:2])
        return tuple(CourtRef(pk=c.pk, tenant_id=c.tenant_id, code=c.code) for c in courts) or None

    found = _cached(("court-any", code), load)
    if found is None:
        raise Lookup("unknown", f"court '{code}'")
    if len(found) > 1:
        raise Lookup("ambiguous", f"court '{code}'")
    return found[0]


def device_row(device_pk) -> Device:
    """The device with its court, as the access paths need them (cached like the rest)."""
    found = _cached(("device-row", device_pk),
                    lambda: Device.objects.select_related("court").filter(pk=device_pk).first())
    if found is None:
        raise Lookup("unknown", f"device {device_pk}")
    return found


def court_row(court_pk) -> Court:
    found = _cached(("court-row", court_pk), lambda: Court.objects.filter(pk=court_pk, is_active=True).first())
    if found is None:
        raise Lookup("unknown", f"court {court_pk}")
    return found
