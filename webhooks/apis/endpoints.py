"""`/api/v1/webhooks/endpoints/` and `/deliveries/`: the tenant's outbound subscriptions.

The signing secret (v1) or the public key (v1a) a receiver verifies with is in the answer to
create and rotate-secret as `verification_key`, once; secret refs are never shown."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from config.api import StrictSerializer, TenantApi
from config.idempotency import idempotent
from webhooks.models import DeliveryAttempt, SigningScheme, WebhookDelivery, WebhookEndpoint
from webhooks.selectors import delivery_get, delivery_list, endpoint_get, endpoint_list
from webhooks.services.deliveries import delivery_replay, deliveries_replay_failed, endpoint_send_test
from webhooks.services.endpoints import (
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_update,
)


class EndpointOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "enabled", "signing_scheme", "public_key",
                  "previous_secret_expires_at", "rate_limit_per_second", "disabled_reason", "disabled_at",
                  "failing_since", "last_success_at", "created_at", "updated_at"]


class EndpointWithKeySerializer(EndpointOutputSerializer):
    verification_key = serializers.CharField(read_only=True)

    class Meta(EndpointOutputSerializer.Meta):
        fields = EndpointOutputSerializer.Meta.fields + ["verification_key"]


def _with_key(endpoint, key) -> dict:
    return {**EndpointOutputSerializer(endpoint).data, "verification_key": key.value}


class DeliveryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint", "event", "event_type", "message_id", "status", "attempts", "next_attempt_at",
                  "last_status_code", "last_error", "succeeded_at", "created_at"]


class AttemptOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "status_code", "latency_ms", "response_excerpt", "error", "created_at"]


class DeliveryDetailOutputSerializer(DeliveryOutputSerializer):
    payload = serializers.JSONField(read_only=True)
    attempt_log = serializers.SerializerMethodField()

    class Meta(DeliveryOutputSerializer.Meta):
        fields = DeliveryOutputSerializer.Meta.fields + ["payload", "attempt_log"]

    def get_attempt_log(self, obj) -> list[dict]:
        return AttemptOutputSerializer(obj.attempt_log.order_by("number"), many=True).data


class EndpointListCreateApi(TenantApi):
    scope_area = "webhooks"

    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "WebhookEndpointListCreateInput"  # a unique OpenAPI component name

        url = serializers.URLField(max_length=2000)
        description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
        event_types = serializers.ListField(child=serializers.CharField(max_length=100), max_length=100)
        enabled = serializers.BooleanField(required=False, default=True)
        signing_scheme = serializers.ChoiceField(choices=SigningScheme.choices, required=False,
                                                 default=SigningScheme.V1)
        rate_limit_per_second = serializers.IntegerField(min_value=1, max_value=10_000, required=False,
                                                         allow_null=True, default=None)
        idempotency_key = serializers.CharField(max_length=255, required=False)

    @extend_schema(responses=EndpointOutputSerializer(many=True))
    def get(self, request):
        return self.paginate(endpoint_list(tenant=self.tenant), EndpointOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: EndpointWithKeySerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if k != "idempotency_key"}

        def create():
            endpoint, key = endpoint_create(tenant=self.tenant, **fields)
            return Response(_with_key(endpoint, key), status=status.HTTP_201_CREATED)

        return idempotent(request, scope="webhooks:endpoints:create", tenant=self.tenant, handler=create)


class EndpointDetailApi(TenantApi):
    scope_area = "webhooks"

    class UpdateSerializer(StrictSerializer):
        class Meta:
            ref_name = "WebhookEndpointDetailUpdate"  # a unique OpenAPI component name

        url = serializers.URLField(max_length=2000, required=False)
        description = serializers.CharField(max_length=500, required=False, allow_blank=True)
        event_types = serializers.ListField(child=serializers.CharField(max_length=100), max_length=100,
                                            required=False)
        enabled = serializers.BooleanField(required=False)
        rate_limit_per_second = serializers.IntegerField(min_value=1, max_value=10_000, required=False,
                                                         allow_null=True)

    @extend_schema(responses=EndpointOutputSerializer)
    def get(self, request, pk):
        return Response(EndpointOutputSerializer(endpoint_get(tenant=self.tenant, endpoint_id=pk)).data)

    @extend_schema(request=UpdateSerializer, responses=EndpointOutputSerializer)
    def patch(self, request, pk):
        endpoint = endpoint_get(tenant=self.tenant, endpoint_id=pk)
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_update(endpoint=endpoint, **data.validated_data)
        return Response(EndpointOutputSerializer(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        endpoint_delete(endpoint=endpoint_get(tenant=self.tenant, endpoint_id=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretApi(TenantApi):
    scope_area = "webhooks"

    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "WebhookEndpointRotateSecretInput"  # a unique OpenAPI component name

        signing_scheme = serializers.ChoiceField(choices=SigningScheme.choices, required=False)
        idempotency_key = serializers.CharField(max_length=255, required=False)

    @extend_schema(request=InputSerializer, responses=EndpointWithKeySerializer)
    def post(self, request, pk):
        endpoint = endpoint_get(tenant=self.tenant, endpoint_id=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def rotate():
            rotated, key = endpoint_rotate_secret(endpoint=endpoint,
                                                  signing_scheme=data.validated_data.get("signing_scheme"))
            return Response(_with_key(rotated, key))

        return idempotent(request, scope=f"webhooks:endpoints:{pk}:rotate", tenant=self.tenant, handler=rotate)


class EndpointTestApi(TenantApi):
    """Queue a `webhook.test` event to this endpoint alone."""

    scope_area = "webhooks"

    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "WebhookEndpointTestInput"  # a unique OpenAPI component name

        idempotency_key = serializers.CharField(max_length=255, required=False)

    @extend_schema(request=InputSerializer, responses={202: DeliveryOutputSerializer})
    def post(self, request, pk):
        endpoint = endpoint_get(tenant=self.tenant, endpoint_id=pk)
        self.InputSerializer(data=request.data).is_valid(raise_exception=True)

        def send():
            delivery = endpoint_send_test(endpoint=endpoint)
            return Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

        return idempotent(request, scope=f"webhooks:endpoints:{pk}:test", tenant=self.tenant, handler=send)


class EndpointDeliveryListApi(TenantApi):
    scope_area = "webhooks"

    class FilterSerializer(StrictSerializer):
        class Meta:
            ref_name = "WebhookEndpointDeliveryListFilter"  # a unique OpenAPI component name

        status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
        event_type = serializers.CharField(max_length=100, required=False)
        cursor = serializers.CharField(required=False)
        page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)

    @extend_schema(parameters=[FilterSerializer], responses=DeliveryOutputSerializer(many=True))
    def get(self, request, pk):
        endpoint = endpoint_get(tenant=self.tenant, endpoint_id=pk)
        filters = self.FilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return self.paginate(delivery_list(tenant=self.tenant, endpoint=endpoint, filters=filters.validated_data),
                             DeliveryOutputSerializer)


class EndpointReplayFailedApi(TenantApi):
    """Queue again every failed delivery of this endpoint created since `since`."""

    scope_area = "webhooks"

    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "WebhookEndpointReplayFailedInput"  # a unique OpenAPI component name

        since = serializers.DateTimeField()
        idempotency_key = serializers.CharField(max_length=255, required=False)

    @extend_schema(request=InputSerializer, responses={202: None})
    def post(self, request, pk):
        endpoint = endpoint_get(tenant=self.tenant, endpoint_id=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def replay():
            queued = deliveries_replay_failed(endpoint=endpoint, since=data.validated_data["since"])
            return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)

        return idempotent(request, scope=f"webhooks:endpoints:{pk}:replay-failed", tenant=self.tenant,
                          handler=replay)


class DeliveryDetailApi(TenantApi):
    scope_area = "webhooks"

    @extend_schema(responses=DeliveryDetailOutputSerializer)
    def get(self, request, pk):
        return Response(DeliveryDetailOutputSerializer(delivery_get(tenant=self.tenant, delivery_id=pk)).data)


class DeliveryReplayApi(TenantApi):
    scope_area = "webhooks"

    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "WebhookDeliveryReplayInput"  # a unique OpenAPI component name

        idempotency_key = serializers.CharField(max_length=255, required=False)

    @extend_schema(request=InputSerializer, responses={202: DeliveryOutputSerializer})
    def post(self, request, pk):
        delivery = delivery_get(tenant=self.tenant, delivery_id=pk)
        self.InputSerializer(data=request.data).is_valid(raise_exception=True)

        def replay():
            return Response(DeliveryOutputSerializer(delivery_replay(delivery=delivery)).data,
                            status=status.HTTP_202_ACCEPTED)

        return idempotent(request, scope=f"webhooks:deliveries:{pk}:replay", tenant=self.tenant, handler=replay)
