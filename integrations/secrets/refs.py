"""Secret refs: the only form in which a credential is written into a model or an API body.

    kv://<vault>/<name>[/<version>]   Azure Key Vault
    local://<name>[/<version>]        the built-in encrypted store, scoped to the tenant
    env://<VAR>                       a process environment variable (development only)

Parsing is pure (no I/O). Error messages name the part and the rule that failed but never
repeat the input: whoever pastes a secret where a ref belongs must not see it echoed back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from django.conf import settings

from integrations.secrets.errors import SecretRefInvalid

Scheme = Literal["kv", "local", "env"]

MAX_REF_LENGTH = 512
NOT_A_REF_MESSAGE = "must be a secret ref (kv://, local://, env://), not a secret value"

# https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftkeyvault
# A hyphen must be followed by a letter or digit: no "--" and no trailing hyphen.
_VAULT_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*")
_KV_SECRET_NAME = re.compile(r"[A-Za-z0-9-]{1,127}")
_KV_VERSION = re.compile(r"[0-9A-Fa-f]{32}")  # Key Vault versions are 32 hex digits
LOCAL_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_LOCAL_VERSION = re.compile(r"[1-9][0-9]{0,9}")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


@dataclass(frozen=True)
class SecretRef:
    scheme: Scheme
    vault: str | None
    name: str
    version: str | None

    def __str__(self) -> str:
        if self.scheme == "kv":
            base = f"kv://{self.vault}/{self.name}"
        else:
            base = f"{self.scheme}://{self.name}"
        return f"{base}/{self.version}" if self.version else base


def parse_ref(value: object, *, allow_env: bool | None = None) -> SecretRef:
    """Parse and validate a ref, raising `SecretRefInvalid` that names what is wrong.

    `allow_env` defaults to settings.SECRETS_ENV_REFS_ENABLED.
    """
    if not isinstance(value, str):
        raise SecretRefInvalid("a secret ref must be a string")
    if len(value) > MAX_REF_LENGTH:
        raise SecretRefInvalid(f"a secret ref is at most {MAX_REF_LENGTH} characters")
    scheme, separator, rest = value.partition("://")
    if not separator or scheme not in ("kv", "local", "env"):
        raise SecretRefInvalid(NOT_A_REF_MESSAGE)
    if scheme == "kv":
        return _parse_kv(rest)
    if scheme == "local":
        return _parse_local(rest)
    if allow_env is None:
        allow_env = settings.SECRETS_ENV_REFS_ENABLED
    if not allow_env:
        raise SecretRefInvalid(
            "env:// refs are disabled in this deployment (SECRETS_ENV_REFS_ENABLED is off)")
    return _parse_env(rest)


def is_ref(value: object) -> bool:
    """True when `value` would parse as a ref in this deployment."""
    try:
        parse_ref(value)
    except SecretRefInvalid:
        return False
    return True


def _parse_kv(rest: str) -> SecretRef:
    parts = rest.split("/")
    if len(parts) not in (2, 3):
        raise SecretRefInvalid("a kv:// ref has the form kv://<vault>/<name>[/<version>]")
    vault, name = parts[0], parts[1]
    version = parts[2] if len(parts) == 3 else None
    if not 3 <= len(vault) <= 24:
        raise SecretRefInvalid("the kv:// vault name must be 3-24 characters long")
    if not _VAULT_NAME.fullmatch(vault):
        raise SecretRefInvalid(
            "the kv:// vault name may hold only letters, digits and single hyphens, "
            "and must start with a letter and end with a letter or digit")
    if not _KV_SECRET_NAME.fullmatch(name):
        raise SecretRefInvalid("the kv:// secret name must be 1-127 letters, digits or hyphens")
    if version is not None and not _KV_VERSION.fullmatch(version):
        raise SecretRefInvalid("the kv:// secret version must be 32 hexadecimal characters")
    return SecretRef(scheme="kv", vault=vault, name=name, version=version)


def _parse_local(rest: str) -> SecretRef:
    parts = rest.split("/")
    if len(parts) not in (1, 2):
        raise SecretRefInvalid("a local:// ref has the form local://<name>[/<version>]")
    name = parts[0]
    version = parts[1] if len(parts) == 2 else None
    if not LOCAL_NAME.fullmatch(name):
        raise SecretRefInvalid(
            "the local:// secret name must be 1-128 letters, digits, hyphens or underscores")
    if version is not None and not _LOCAL_VERSION.fullmatch(version):
        raise SecretRefInvalid("the local:// secret version must be a positive whole number")
    return SecretRef(scheme="local", vault=None, name=name, version=version)


def _parse_env(rest: str) -> SecretRef:
    if not _ENV_VAR.fullmatch(rest):
        raise SecretRefInvalid(
            "an env:// ref names one environment variable: a letter or underscore, then letters, "
            "digits or underscores (at most 255)")
    # A tenant must not be able to point a credential at the hub's own configuration
    # (env://DJANGO_SECRET_KEY would then be sent to a provider): only a reserved prefix is readable.
    prefix = settings.SECRETS_ENV_PREFIX
    if not rest.startswith(prefix):
        raise SecretRefInvalid(f"an env:// ref may only name variables starting with {prefix}")
    return SecretRef(scheme="env", vault=None, name=rest, version=None)
