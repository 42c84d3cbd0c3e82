"""Writes of the tenant's court registry: members, courts and devices (API and admin).

Unique ids (a member's CRM id and card, a court code, a device id) are checked here so a
clash is a 409 naming the field, not a database error. A member or court with sessions is
kept (deactivate it instead); a device can always go.
"""
from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from integrations.errors import Conflict
from iot.models import Court, Device, Member
from iot.services.directory import directory_clear

logger = logging.getLogger(__name__)

_UNIQUE_FIELDS = {
    Member: ("external_id", "rfid_card_id"),
    Court: ("code",),
    Device: ("external_id",),
}


def _check_unique(model, *, tenant, data: dict, exclude_pk=None) -> None:
    for name in _UNIQUE_FIELDS[model]:
        value = data.get(name)
        if not value:
            continue
        clash = model.objects.filter(tenant=tenant, **{name: value})
        if exclude_pk is not None:
            clash = clash.exclude(pk=exclude_pk)
        if clash.exists():
            raise Conflict(f"another {model._meta.verbose_name} already has this {name}",
                           extra={"errors": {name: ["already in use in this tenant"]}})


def _check_court(*, tenant, data: dict) -> None:
    court = data.get("court")
    if court is not None and court.tenant_id != tenant.pk:
        raise Conflict("the court belongs to another tenant")  # the API resolves courts per tenant


def _save(model, *, tenant, data: dict, instance=None, actor: str):
    _check_unique(model, tenant=tenant, data=data, exclude_pk=instance.pk if instance else None)
    if model is Device:
        _check_court(tenant=tenant, data=data)
    try:
        with transaction.atomic():
            if instance is None:
                instance = model.objects.create(tenant=tenant, **data)
            else:
                for name, value in data.items():
                    setattr(instance, name, value)
                instance.save()
    except IntegrityError:
        raise Conflict(f"the {model._meta.verbose_name} clashes with one written at the same time") from None
    if model is not Member:
        transaction.on_commit(directory_clear)  # the ingester's cache of this process sees it at once
    logger.info(f"{model._meta.model_name} saved", extra={"id": str(instance.pk), "actor": actor})
    return instance


def member_create(*, tenant, data: dict, actor: str) -> Member:
    return _save(Member, tenant=tenant, data=data, actor=actor)


def member_update(*, member: Member, data: dict, actor: str) -> Member:
    return _save(Member, tenant=member.tenant, data=data, instance=member, actor=actor)


def court_create(*, tenant, data: dict, actor: str) -> Court:
    return _save(Court, tenant=tenant, data=data, actor=actor)


def court_update(*, court: Court, data: dict, actor: str) -> Court:
    return _save(Court, tenant=court.tenant, data=data, instance=court, actor=actor)


def device_create(*, tenant, data: dict, actor: str) -> Device:
    return _save(Device, tenant=tenant, data=data, actor=actor)


def device_update(*, device: Device, data: dict, actor: str) -> Device:
    return _save(Device, tenant=device.tenant, data=data, instance=device, actor=actor)


def registry_delete(*, instance, actor: str) -> None:
    """Delete a member, court or device; refused (409) while sessions or streams point at it."""
    try:
        with transaction.atomic():
            instance.delete()
    except ProtectedError:
        raise Conflict(f"this {instance._meta.verbose_name} has sessions or streams; deactivate it instead") from None
    transaction.on_commit(directory_clear)
    logger.info(f"{instance._meta.model_name} deleted", extra={"id": str(instance.pk), "actor": actor})
