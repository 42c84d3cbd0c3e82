"""The local secret store over HTTP: write a value, list names and versions.

No endpoint ever reads a value back; clients keep the returned ref and put it in `*_ref`
fields.
"""
from __future__ import annotations

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from config.api import StrictSerializer, TenantApi
from integrations.secrets.selectors import local_secret_list
from integrations.secrets.services import MAX_VALUE_BYTES, local_secret_write


class _StringField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def _value_within_limit(value: str) -> None:
    if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
        # The message states the limit only: the rejected value is never echoed.
        raise serializers.ValidationError(f"must be at most {MAX_VALUE_BYTES} bytes (UTF-8)")


class SecretListCreateApi(TenantApi):
    """POST stores a value as the next version of a local secret and answers its ref; GET lists
    names and versions. Values are never returned."""

    scope_area = "secrets"

    class InputSerializer(StrictSerializer):
        name = _StringField(max_length=128, validators=[RegexValidator(
            r"^[A-Za-z0-9_-]{1,128}\Z", "may hold only letters, digits, hyphens and underscores")])
        value = _StringField(trim_whitespace=False, write_only=True, validators=[_value_within_limit],
                             help_text="The secret itself; stored encrypted and never returned.")

        class Meta:
            ref_name = "SecretInput"  # nested names repeat across views; the schema needs unique ones

    class CreatedSerializer(serializers.Serializer):
        ref = serializers.CharField(help_text="local://<name>: always the newest version.")
        name = serializers.CharField()
        version = serializers.IntegerField()

        class Meta:
            ref_name = "SecretCreated"

    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        version = serializers.IntegerField()
        ref = serializers.SerializerMethodField(help_text="local://<name>/<version>: this version.")
        created_at = serializers.DateTimeField()

        class Meta:
            ref_name = "SecretVersion"

        def get_ref(self, row) -> str:
            return f"local://{row.name}/{row.version}"

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        return self.paginate(local_secret_list(tenant=self.tenant), self.OutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: CreatedSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = local_secret_write(tenant=self.tenant, **data.validated_data)
        body = {"ref": f"local://{row.name}", "name": row.name, "version": row.version}
        return Response(self.CreatedSerializer(body).data, status=status.HTTP_201_CREATED)
