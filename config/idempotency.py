"""Idempotent state-changing requests (DESIGN: Idempotency).

The key comes from the `Idempotency-Key` header or the body's `idempotency_key`. Same key and
same body: the first response again. Same key, other body: 422. Same key still in flight: 409.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from integrations.errors import ApplicationError, IdempotencyConflict, IdempotencyInFlight

# An in-flight record this old belongs to a request whose process died; its writes were rolled
# back with it, so the key may be used again.
ABANDONED_AFTER = timedelta(minutes=2)
MAX_KEY_LENGTH = 255


def idempotency_key_of(request) -> str | None:
    header = request.headers.get("Idempotency-Key")
    body_key = request.data.get("idempotency_key") if isinstance(request.data, dict) else None
    if header is not None and body_key is not None and header != body_key:
        raise ApplicationError("the Idempotency-Key header and the idempotency_key field differ",
                               code="idempotency_key_mismatch")
    key = header if header is not None else body_key
    if key is None:
        return None
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApplicationError(f"an idempotency key is 1 to {MAX_KEY_LENGTH} printable characters",
                               code="invalid_idempotency_key",
                               extra={"errors": {"idempotency_key": ["invalid idempotency key"]}})
    return key


def request_fingerprint(request) -> str:
    body = request.data if isinstance(request.data, dict) else {"_": request.data}
    body = {k: v for k, v in body.items() if k != "idempotency_key"}
    canonical = json.dumps([request.method, request.path, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent(request, *, scope: str, tenant, handler: Callable[[], Response]) -> Response:
    from integrations.models import IdempotencyRecord

    key = idempotency_key_of(request)
    if key is None:
        return handler()
    fingerprint = request_fingerprint(request)
    lookup = {"tenant": tenant, "scope": scope, "key": key}
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(request_hash=fingerprint, **lookup)
    except IntegrityError:
        existing = IdempotencyRecord.objects.filter(**lookup).first()
        if existing is None:  # released by a failed first attempt in the meantime
            return idempotent(request, scope=scope, tenant=tenant, handler=handler)
        if existing.request_hash != fingerprint:
            raise IdempotencyConflict("this idempotency key was used with a different request body") from None
        if not existing.completed:
            if timezone.now() - existing.created_at < ABANDONED_AFTER:
                raise IdempotencyInFlight("a request with this idempotency key is still being processed") from None
            IdempotencyRecord.objects.filter(pk=existing.pk, completed=False).delete()
            return idempotent(request, scope=scope, tenant=tenant, handler=handler)
        replay = Response(existing.response_body, status=existing.response_status)
        replay["Idempotent-Replayed"] = "true"
        return replay
    try:
        with transaction.atomic():
            response = handler()
            if response.status_code >= 500:
                raise _NotStored(response)
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                completed=True, response_status=response.status_code,
                response_body=json.loads(json.dumps(response.data, cls=JSONEncoder)))
    except _NotStored as exc:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return exc.response
    except BaseException:
        # The handler's writes rolled back; release the key so a retry can run.
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        raise
    return response


class _NotStored(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response
