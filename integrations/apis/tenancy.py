from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from config.api import StrictSerializer, TenantApi
from integrations.selectors.tenancy import api_key_get, api_key_list
from integrations.services.tenancy import api_key_create, api_key_revoke


class TenantDetailApi(TenantApi):
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        slug = serializers.CharField()
        name = serializers.CharField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        return Response(self.OutputSerializer(self.tenant).data)


class ApiKeyOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeyListCreateApi(TenantApi):
    scope_area = "keys"

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=100)
        scopes = serializers.ListField(child=serializers.CharField(max_length=40), min_length=1, max_length=20)

    class CreatedSerializer(ApiKeyOutputSerializer):
        key = serializers.CharField(help_text="The key itself; shown only in this response.")

    @extend_schema(responses=ApiKeyOutputSerializer(many=True))
    def get(self, request):
        return self.paginate(api_key_list(tenant=self.tenant), ApiKeyOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: CreatedSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key, plaintext = api_key_create(tenant=self.tenant, **data.validated_data)
        body = ApiKeyOutputSerializer(key).data | {"key": plaintext}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(TenantApi):
    scope_area = "keys"

    @extend_schema(responses=ApiKeyOutputSerializer)
    def get(self, request, pk):
        return Response(ApiKeyOutputSerializer(api_key_get(tenant=self.tenant, api_key_id=pk)).data)


class ApiKeyRevokeApi(TenantApi):
    scope_area = "keys"

    @extend_schema(request=None, responses=ApiKeyOutputSerializer)
    def post(self, request, pk):
        return Response(ApiKeyOutputSerializer(api_key_revoke(tenant=self.tenant, api_key_id=pk)).data)
