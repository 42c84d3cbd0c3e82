"""`SecretRefField`: the serializer field behind every `*_ref` input.

It accepts a valid ref and nothing else, so a secret pasted where a ref belongs is refused
(and never echoed back). For local:// refs it also checks that the secret exists for the
tenant in the serializer context (`context={"tenant": ...}`); without a tenant in the
context only the syntax is checked.
"""
from __future__ import annotations

from rest_framework import serializers

from integrations.secrets.errors import SecretRefInvalid
from integrations.secrets.refs import MAX_REF_LENGTH, NOT_A_REF_MESSAGE, SecretRef, parse_ref
from integrations.secrets.selectors import local_secret_exists


class SecretRefField(serializers.CharField):
    default_error_messages = {
        "not_a_ref": NOT_A_REF_MESSAGE,
        "local_missing": "{ref} does not exist for this tenant; store it first with POST /api/v1/secrets/",
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", MAX_REF_LENGTH)
        # A ref is exact text: padding is a mistake to report, not to repair silently.
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("help_text", "A secret ref: kv://<vault>/<name>[/<version>], "
                                       "local://<name>[/<version>] or env://<VAR>. Never a secret value.")
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("not_a_ref")
        try:
            ref = parse_ref(data)
        except SecretRefInvalid as exc:
            raise serializers.ValidationError(exc.detail, code=SecretRefInvalid.code) from None
        self._check_local_exists(ref)
        return str(ref)

    def _check_local_exists(self, ref: SecretRef) -> None:
        tenant = self.context.get("tenant")
        if ref.scheme != "local" or tenant is None:
            return
        version = int(ref.version) if ref.version else None
        if not local_secret_exists(tenant=tenant, name=ref.name, version=version):
            self.fail("local_missing", ref=str(ref))
