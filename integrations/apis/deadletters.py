from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from config.api import StrictSerializer, TenantApi
from integrations.errors import NotFound
from integrations.models import DeadLetter
from integrations.services.deadletters import dead_letter_discard, dead_letter_replay


class DeadLetterOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeadLetter
        fields = ["id", "integration", "operation", "subject_id", "payload", "error", "error_code", "attempts",
                  "status", "replay_count", "last_replayed_at", "last_replayed_by", "created_at"]


def _get(tenant, pk) -> DeadLetter:
    letter = DeadLetter.objects.filter(tenant=tenant, pk=pk).first()
    if letter is None:
        raise NotFound("dead letter not found")
    return letter


class DeadLetterListApi(TenantApi):
    scope_area = "integrations"

    class FilterSerializer(StrictSerializer):
        status = serializers.ChoiceField(choices=DeadLetter.Status.choices, required=False)
        operation = serializers.CharField(max_length=100, required=False)
        integration = serializers.UUIDField(required=False)
        cursor = serializers.CharField(required=False)
        page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)

    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        qs = DeadLetter.objects.filter(tenant=self.tenant)
        for name in ("status", "operation"):
            if name in filters.validated_data:
                qs = qs.filter(**{name: filters.validated_data[name]})
        if "integration" in filters.validated_data:
            qs = qs.filter(integration_id=filters.validated_data["integration"])
        return self.paginate(qs, DeadLetterOutputSerializer)


class DeadLetterDetailApi(TenantApi):
    scope_area = "integrations"

    def get(self, request, pk):
        return Response(DeadLetterOutputSerializer(_get(self.tenant, pk)).data)


class DeadLetterReplayApi(TenantApi):
    scope_area = "integrations"

    @extend_schema(request=None, responses=DeadLetterOutputSerializer)
    def post(self, request, pk):
        letter = dead_letter_replay(dead_letter=_get(self.tenant, pk), actor=self.actor)
        return Response(DeadLetterOutputSerializer(letter).data)


class DeadLetterDiscardApi(TenantApi):
    scope_area = "integrations"

    @extend_schema(request=None, responses=DeadLetterOutputSerializer)
    def post(self, request, pk):
        letter = dead_letter_discard(dead_letter=_get(self.tenant, pk), actor=self.actor)
        return Response(DeadLetterOutputSerializer(letter).data)
