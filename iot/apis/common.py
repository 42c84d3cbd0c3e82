"""What the iot API views share: the scope, list filters with the cursor, idempotent writes."""
from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.response import Response

from config.api import StrictSerializer, TenantApi
from config.idempotency import idempotent


class IotApi(TenantApi):
    scope_area = "iot"

    def filters(self, serializer_class) -> dict:
        query = serializer_class(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return query.validated_data

    def create_idempotently(self, *, scope: str, write, output) -> Response:
        """A create that honours Idempotency-Key (header or `idempotency_key` in the body)."""
        def create():
            instance = write()
            return Response(output(instance).data, status=status.HTTP_201_CREATED)

        return idempotent(self.request, scope=f"iot:{scope}:create", tenant=self.tenant, handler=create)


class PageQuery(StrictSerializer):
    cursor = serializers.CharField(required=False, max_length=500)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)


def tenant_court_field(**kwargs) -> serializers.PrimaryKeyRelatedField:
    """A court id, resolved among the request tenant's courts only (another tenant's id is
    "does not exist", exactly like an id nobody has)."""
    from iot.models import Court

    class TenantCourtField(serializers.PrimaryKeyRelatedField):
        def get_queryset(self):
            return Court.objects.filter(tenant=self.context["tenant"])

    return TenantCourtField(**kwargs)
