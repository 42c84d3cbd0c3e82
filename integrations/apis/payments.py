from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from config.api import StrictSerializer, TenantApi
from config.idempotency import idempotent
from integrations.errors import NotFound
from integrations.families.validators import normalise_currency
from integrations.models import Payment, PaymentGatewayIntegration
from integrations.selectors.integrations import integration_get
from integrations.services.payments import payment_create


class PaymentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["id", "integration", "amount", "currency", "description", "customer_email", "metadata", "status",
                  "provider_payment_id", "client_secret_present", "idempotency_key", "attempts", "last_error",
                  "created_at", "updated_at"]


class PaymentListCreateApi(TenantApi):
    scope_area = "integrations"

    class InputSerializer(StrictSerializer):
        amount = serializers.IntegerField(min_value=1, max_value=99_999_999)
        currency = serializers.CharField(max_length=3)
        description = serializers.CharField(max_length=500, required=False, allow_blank=True)
        customer_email = serializers.EmailField(required=False, allow_blank=True)
        metadata = serializers.DictField(child=serializers.CharField(max_length=500), required=False)
        idempotency_key = serializers.CharField(max_length=255, required=False)

        def validate_metadata(self, value: dict) -> dict:
            if len(value) > 20 or any(len(k) > 40 for k in value):
                raise serializers.ValidationError("at most 20 keys of at most 40 characters")
            return value

        def validate_currency(self, value: str) -> str:
            try:
                return normalise_currency(value)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from None

    def get(self, request, pk):
        integration = integration_get(tenant=self.tenant, integration_id=pk, model=PaymentGatewayIntegration)
        return self.paginate(Payment.objects.filter(tenant=self.tenant, integration=integration),
                             PaymentOutputSerializer)

    @extend_schema(request=InputSerializer, responses={202: PaymentOutputSerializer})
    def post(self, request, pk):
        integration = integration_get(tenant=self.tenant, integration_id=pk, model=PaymentGatewayIntegration)

        def create():
            data = self.InputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            fields = dict(data.validated_data)
            fields["idempotency_key"] = fields.get("idempotency_key") or request.headers.get("Idempotency-Key")
            payment = payment_create(tenant=self.tenant, integration=integration, **fields)
            payment.refresh_from_db()
            return Response(PaymentOutputSerializer(payment).data, status=status.HTTP_202_ACCEPTED)

        return idempotent(request, scope=f"payments:{pk}:create", tenant=self.tenant, handler=create)


class PaymentDetailApi(TenantApi):
    scope_area = "integrations"

    def get(self, request, pk):
        payment = Payment.objects.filter(tenant=self.tenant, pk=pk).first()
        if payment is None:
            raise NotFound("payment not found")
        return Response(PaymentOutputSerializer(payment).data)
