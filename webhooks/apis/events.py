"""`/api/v1/webhooks/events/`: what providers sent the tenant, and replaying its handling."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from config.api import StrictSerializer, TenantApi
from config.idempotency import idempotent
from webhooks.models import InboundEvent
from webhooks.selectors import inbound_event_get, inbound_event_list
from webhooks.services.inbound import inbound_event_replay


class InboundEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = InboundEvent
        fields = ["id", "integration", "provider", "external_id", "event_type", "vendor_type", "subject_id",
                  "occurred_at", "payload", "details", "status", "attempts", "last_error", "handled_at",
                  "next_attempt_at", "created_at"]


class InboundEventListApi(TenantApi):
    scope_area = "webhooks"

    class FilterSerializer(StrictSerializer):
        class Meta:
            ref_name = "WebhookInboundEventListFilter"  # a unique OpenAPI component name

        provider = serializers.CharField(max_length=40, required=False)
        event_type = serializers.CharField(max_length=40, required=False)
        vendor_type = serializers.CharField(max_length=100, required=False)
        subject_id = serializers.CharField(max_length=255, required=False)
        status = serializers.ChoiceField(choices=InboundEvent.Status.choices, required=False)
        integration = serializers.UUIDField(required=False)
        cursor = serializers.CharField(required=False)
        page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)

    @extend_schema(parameters=[FilterSerializer], responses=InboundEventOutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return self.paginate(inbound_event_list(tenant=self.tenant, filters=filters.validated_data),
                             InboundEventOutputSerializer)


class InboundEventDetailApi(TenantApi):
    scope_area = "webhooks"

    @extend_schema(responses=InboundEventOutputSerializer)
    def get(self, request, pk):
        return Response(InboundEventOutputSerializer(inbound_event_get(tenant=self.tenant, event_id=pk)).data)


class InboundEventReplayApi(TenantApi):
    """Run the event's handlers again now; the answer shows how that went."""

    scope_area = "webhooks"

    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "WebhookInboundEventReplayInput"  # a unique OpenAPI component name

        idempotency_key = serializers.CharField(max_length=255, required=False)

    @extend_schema(request=InputSerializer, responses=InboundEventOutputSerializer)
    def post(self, request, pk):
        self.InputSerializer(data=request.data).is_valid(raise_exception=True)
        event = inbound_event_get(tenant=self.tenant, event_id=pk)

        def replay():
            return Response(InboundEventOutputSerializer(inbound_event_replay(event=event, actor=self.actor)).data)

        return idempotent(request, scope=f"webhooks:events:{pk}:replay", tenant=self.tenant, handler=replay)
