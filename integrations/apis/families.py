"""CRUD and lifecycle actions for every integration family at /api/v1/integrations/<family>/."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from config.api import StrictSerializer, TenantApi
from config.idempotency import idempotent
from integrations.families.registry import family_spec
from integrations.families.serializers import output_serializer_for
from integrations.models import Integration
from integrations.selectors.integrations import integration_get, integration_list, integration_transition_list
from integrations.selectors.usage import usage_summary
from integrations.services.integrations import integration_create, integration_update, integration_validate
from integrations.services.lifecycle import integration_transition


class IntegrationFilterSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=["draft", "active", "paused", "error", "decommissioned"], required=False)
    provider = serializers.CharField(max_length=40, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)


class FamilyApi(TenantApi):
    scope_area = "integrations"
    family: str = ""

    @property
    def spec(self):
        return family_spec(self.family)

    def get_integration(self, pk):
        return integration_get(tenant=self.tenant, integration_id=pk, model=self.spec.model)


class IntegrationListCreateApi(FamilyApi):
    def get(self, request):
        filters = IntegrationFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        qs = integration_list(tenant=self.tenant, model=self.spec.model, filters=filters.validated_data)
        return self.paginate(qs, output_serializer_for(self.spec.model))

    def post(self, request):
        def create():
            data = self.spec.input_serializer(data=request.data, context={"spec": self.spec, "tenant": self.tenant})
            data.is_valid(raise_exception=True)
            integration = self.perform_create(data.validated_data)
            return Response(output_serializer_for(self.spec.model)(integration).data, status=status.HTTP_201_CREATED)

        return idempotent(request, scope=f"integrations:{self.family}:create", tenant=self.tenant, handler=create)

    def perform_create(self, validated_data: dict) -> Integration:
        """The write behind a create; apps whose configs need more on creation override it."""
        return integration_create(tenant=self.tenant, spec=self.spec, data=validated_data, actor=self.actor)


class IntegrationDetailApi(FamilyApi):
    def get(self, request, pk):
        return Response(output_serializer_for(self.spec.model)(self.get_integration(pk)).data)

    def patch(self, request, pk):
        integration = self.get_integration(pk)
        data = self.spec.input_serializer(integration, data=request.data, partial=True,
                                          context={"spec": self.spec, "tenant": self.tenant})
        data.is_valid(raise_exception=True)
        integration = integration_update(integration=integration, data=data.validated_data, actor=self.actor)
        return Response(output_serializer_for(self.spec.model)(integration).data)


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    idempotency_key = serializers.CharField(max_length=255, required=False)


class IntegrationActionApi(FamilyApi):
    action: str = ""

    @extend_schema(request=ReasonSerializer)
    def post(self, request, pk):
        integration = self.get_integration(pk)

        def act():
            body = ReasonSerializer(data=request.data or {})
            body.is_valid(raise_exception=True)
            updated = integration_transition(integration=integration, action=self.action, actor=self.actor,
                                             reason=body.validated_data.get("reason", ""))
            return Response(output_serializer_for(self.spec.model)(updated.specific()).data)

        return idempotent(request, scope=f"integrations:{pk}:{self.action}", tenant=self.tenant, handler=act)


class ValidationRunSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    passed = serializers.BooleanField()
    message = serializers.CharField()
    actor = serializers.CharField()
    latency_ms = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class IntegrationValidateApi(FamilyApi):
    @extend_schema(request=None, responses=ValidationRunSerializer)
    def post(self, request, pk):
        integration = self.get_integration(pk)
        if request.data:
            ReasonSerializer(data=request.data).is_valid(raise_exception=True)
        run = integration_validate(integration=integration, actor=self.actor)
        return Response(ValidationRunSerializer(run).data)


class IntegrationUsageApi(FamilyApi):
    class QuerySerializer(StrictSerializer):
        days = serializers.IntegerField(min_value=1, max_value=366, required=False, default=30)

    def get(self, request, pk):
        query = self.QuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        integration = self.get_integration(pk)
        return Response(usage_summary(tenant=self.tenant, integration=integration, days=query.validated_data["days"]))


class TransitionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    action = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    actor = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class IntegrationTransitionsApi(FamilyApi):
    def get(self, request, pk):
        integration = self.get_integration(pk)
        return self.paginate(integration_transition_list(tenant=self.tenant, integration=integration),
                             TransitionSerializer)


class IntegrationSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Integration
        fields = ["id", "family", "provider", "display_name", "status", "sandbox_mode", "last_validated_at",
                  "last_validation_passed", "created_at"]


class AllIntegrationsListApi(TenantApi):
    """Every integration of the tenant across families."""

    scope_area = "integrations"

    class FilterSerializer(IntegrationFilterSerializer):
        family = serializers.CharField(max_length=32, required=False)

    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return self.paginate(integration_list(tenant=self.tenant, filters=filters.validated_data),
                             IntegrationSummarySerializer)
