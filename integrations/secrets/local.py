"""The built-in store behind local:// refs: rows of LocalSecret, Fernet-encrypted at rest.

Each ciphertext seals an envelope that names its tenant, name and version, so a row copied
onto another tenant's (or another name's) row in the database does not decrypt as theirs.
"""
from __future__ import annotations

import json

from cryptography.fernet import InvalidToken

from integrations.models import LocalSecret, Tenant
from integrations.secrets.crypto import local_fernet
from integrations.secrets.errors import SecretBackendUnavailable, SecretNotFound
from integrations.secrets.refs import SecretRef
from integrations.secrets.selectors import local_secret_get


def _binding(*, tenant_id: object, name: str, version: int) -> str:
    return f"{tenant_id}/{name}/{version}"


def local_encrypt(*, tenant_id: object, name: str, version: int, value: str) -> str:
    envelope = {"bound_to": _binding(tenant_id=tenant_id, name=name, version=version), "value": value}
    return local_fernet().encrypt(json.dumps(envelope).encode("utf-8")).decode("ascii")


def local_decrypt(*, row: LocalSecret) -> str:
    where = f"local://{row.name}/{row.version}"
    try:
        envelope = json.loads(local_fernet().decrypt(row.ciphertext.encode("ascii")))
    except (InvalidToken, UnicodeEncodeError, ValueError):
        raise SecretBackendUnavailable(
            f"{where} cannot be decrypted: LOCAL_SECRETS_KEY (or SECRET_KEY, for the embedded default) "
            "is not the key it was written with") from None
    if envelope.get("bound_to") != _binding(tenant_id=row.tenant_id, name=row.name, version=row.version):
        raise SecretBackendUnavailable(
            f"{where} was sealed for another tenant, name or version; the row was altered")
    return envelope["value"]


def local_fetch(*, tenant: Tenant, ref: SecretRef) -> str:
    version = int(ref.version) if ref.version else None
    row = local_secret_get(tenant=tenant, name=ref.name, version=version)
    if row is None:
        raise SecretNotFound(f"{ref} does not exist for this tenant")
    return local_decrypt(row=row)
