"""The Fernet key that encrypts the local store at rest.

LOCAL_SECRETS_KEY (urlsafe base64 of 32 bytes, as `Fernet.generate_key()` prints) is the
production setting. When it is empty, the embedded default derives a key from SECRET_KEY
with HKDF-SHA256, so development needs nothing; the catch is that changing SECRET_KEY then
makes every stored secret unreadable, which is why a deployment sets its own key.
"""
from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Domain separation: the same SECRET_KEY also signs sessions and tokens; this derivation
# must never produce a value any of those produce.
_HKDF_SALT = b"integration-hub/local-secrets"
_HKDF_INFO = b"fernet-key/v1"


def derive_key_from_secret_key(secret_key: str) -> bytes:
    """The embedded default: a Fernet key derived from Django's SECRET_KEY."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        secret_key.encode("utf-8"))
    return base64.urlsafe_b64encode(raw)


def fernet_for(*, configured_key: str, secret_key: str) -> Fernet:
    """A Fernet for the configured key, or for the SECRET_KEY derivation when none is configured."""
    if not configured_key:
        return Fernet(derive_key_from_secret_key(secret_key))
    try:
        return Fernet(configured_key)
    except ValueError:
        # `from None`: the rejected key is itself a secret and must not reach a traceback.
        raise ImproperlyConfigured(
            "LOCAL_SECRETS_KEY must be urlsafe base64 of 32 bytes, as Fernet.generate_key() prints") from None


@lru_cache(maxsize=4)
def _cached_fernet(configured_key: str, secret_key: str) -> Fernet:
    return fernet_for(configured_key=configured_key, secret_key=secret_key)


def local_fernet() -> Fernet:
    """The Fernet for the current settings (cached per key, so overridden settings take effect)."""
    return _cached_fernet(settings.LOCAL_SECRETS_KEY, settings.SECRET_KEY)
