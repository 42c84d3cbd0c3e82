"""Sync orchestration API at /api/v1/sync/: runs (triggerSync, cancel, CSV download),
integration status and last result, schedules, token refresh, and the shortcuts
exportReimbursements, syncMembershipData and syncCourseEnrollments."""
from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from config.api import StrictSerializer, TenantApi
from config.idempotency import idempotent
from integrations.errors import NotFound
from sync.apis.serializers import RunDetailSerializer, RunSerializer, ScheduleSerializer
from sync.models import RunState, RunTrigger
from sync.selectors import (
    sync_integration_resolve,
    sync_integration_status,
    sync_run_get,
    sync_run_last_finished,
    sync_run_list,
    sync_schedule_get,
    sync_schedule_list,
)
from sync.services.credentials import integration_token_refresh
from sync.services.records import reimbursements_export
from sync.services.runs import RunAlreadyActive, sync_run_cancel, sync_trigger
from sync.services.schedules import sync_schedule_cancel, sync_schedule_create

SCOPES = ["accounting", "invoices", "payments", "expenses", "reimbursements", "members", "enrollments"]


class SyncApi(TenantApi):
    scope_area = "sync"


class SyncTargetSerializer(StrictSerializer):
    integration_type = serializers.CharField(max_length=100)
    integration_id = serializers.UUIDField(required=False)
    idempotency_key = serializers.CharField(max_length=255, required=False)

    def resolve(self, tenant):
        return sync_integration_resolve(tenant=tenant, integration_type=self.validated_data["integration_type"],
                                        integration_id=self.validated_data.get("integration_id"))


def _start(api: SyncApi, request, scope_name: str, start) -> Response:
    """Start a run (idempotently); a run already active answers 409 with that run."""
    def handler() -> Response:
        try:
            run = start()
        except RunAlreadyActive as busy:
            body = {"type": "urn:hub:problem:sync_run_active", "title": busy.title, "status": 409,
                    "detail": busy.detail, "code": busy.code, "active_run": RunSerializer(busy.run).data}
            return Response(body, status=409, content_type="application/problem+json")
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    return idempotent(request, scope=f"sync:{scope_name}", tenant=api.tenant, handler=handler)


class RunListTriggerApi(SyncApi):
    class SyncTriggerInputSerializer(SyncTargetSerializer):
        scope = serializers.ChoiceField(choices=SCOPES, required=False)
        record_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=10000)
        mode = serializers.ChoiceField(choices=["api", "csv"], required=False, default="api")

    class SyncRunFilterSerializer(StrictSerializer):
        state = serializers.ChoiceField(choices=RunState.choices, required=False)
        integration_id = serializers.UUIDField(required=False)
        cursor = serializers.CharField(required=False)
        page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)

    @extend_schema(parameters=[SyncRunFilterSerializer], responses=RunSerializer(many=True))
    def get(self, request):
        filters = self.SyncRunFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return self.paginate(sync_run_list(tenant=self.tenant, filters=filters.validated_data), RunSerializer)

    @extend_schema(request=SyncTriggerInputSerializer, responses={202: RunSerializer})
    def post(self, request):
        body = self.SyncTriggerInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        integration = body.resolve(self.tenant)
        data = body.validated_data
        return _start(self, request, "trigger", lambda: sync_trigger(
            tenant=self.tenant, integration=integration, scope=data.get("scope"), trigger=RunTrigger.API,
            actor=self.actor, record_ids=data.get("record_ids"), mode=data["mode"]))


class RunDetailApi(SyncApi):
    @extend_schema(responses=RunDetailSerializer)
    def get(self, request, pk):
        return Response(RunDetailSerializer(sync_run_get(tenant=self.tenant, run_id=pk)).data)


class RunCancelApi(SyncApi):
    @extend_schema(request=None, responses=RunSerializer)
    def post(self, request, pk):
        run = sync_run_get(tenant=self.tenant, run_id=pk)
        return Response(RunSerializer(sync_run_cancel(run=run, actor=self.actor)).data)


class RunExportApi(SyncApi):
    """The CSV file of an export run, in the provider's import layout."""

    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request, pk):
        run = sync_run_get(tenant=self.tenant, run_id=pk)
        export = run.export if hasattr(run, "export") else None  # the reverse one-to-one raises when absent
        if export is None:
            raise NotFound("this run produced no CSV file")
        response = HttpResponse(export.content.encode("utf-8"), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        return response


class SyncStatusQuerySerializer(StrictSerializer):
    integration_type = serializers.CharField(max_length=100)
    integration_id = serializers.UUIDField(required=False)


class IntegrationStatusApi(SyncApi):
    """getIntegrationStatus."""

    @extend_schema(parameters=[SyncStatusQuerySerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        query = SyncStatusQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        integration = sync_integration_resolve(tenant=self.tenant, **query.validated_data)
        state = sync_integration_status(tenant=self.tenant, integration=integration)
        return Response({
            "integration_id": str(integration.pk), "integration_type": state["integration_type"],
            "display_name": integration.display_name, "status": integration.status,
            "status_reason": integration.status_reason,
            "active_run": RunSerializer(state["active_run"]).data if state["active_run"] else None,
            "last_run": RunSerializer(state["last_run"]).data if state["last_run"] else None,
            "schedules": ScheduleSerializer(state["schedules"], many=True).data,
            "oauth_token_expires_at": state["oauth_token_expires_at"], "records": state["records"],
        })


class LastResultApi(SyncApi):
    """getLastSyncResult: the last finished run, with its per-record errors."""

    @extend_schema(parameters=[SyncStatusQuerySerializer], responses=RunDetailSerializer)
    def get(self, request):
        query = SyncStatusQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        integration = sync_integration_resolve(tenant=self.tenant, **query.validated_data)
        run = sync_run_last_finished(tenant=self.tenant, integration=integration)
        if run is None:
            raise NotFound("this integration has not finished a sync run yet")
        return Response(RunDetailSerializer(run).data)


class ScheduleListCreateApi(SyncApi):
    class SyncScheduleInputSerializer(SyncTargetSerializer):
        scope = serializers.ChoiceField(choices=SCOPES)
        cron = serializers.CharField(max_length=120)
        timezone = serializers.CharField(max_length=64, required=False, default="UTC")

    @extend_schema(responses=ScheduleSerializer(many=True))
    def get(self, request):
        return self.paginate(sync_schedule_list(tenant=self.tenant), ScheduleSerializer)

    @extend_schema(request=SyncScheduleInputSerializer, responses={201: ScheduleSerializer})
    def post(self, request):
        body = self.SyncScheduleInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        integration = body.resolve(self.tenant)
        data = body.validated_data

        def create() -> Response:
            schedule = sync_schedule_create(tenant=self.tenant, integration=integration, scope=data["scope"],
                                            cron=data["cron"].strip(), timezone=data["timezone"], actor=self.actor)
            return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)

        return idempotent(request, scope="sync:schedule", tenant=self.tenant, handler=create)


class ScheduleDetailApi(SyncApi):
    @extend_schema(responses=ScheduleSerializer)
    def get(self, request, pk):
        return Response(ScheduleSerializer(sync_schedule_get(tenant=self.tenant, schedule_id=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        """cancelScheduledSync."""
        sync_schedule_cancel(schedule=sync_schedule_get(tenant=self.tenant, schedule_id=pk), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenRefreshSerializer(serializers.Serializer):
    integration_id = serializers.UUIDField()
    grant = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class TokenRefreshApi(SyncApi):
    """refreshOAuthToken: a new access token now; the answer says only when it expires."""

    @extend_schema(request=SyncTargetSerializer, responses=TokenRefreshSerializer)
    def post(self, request):
        body = SyncTargetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = integration_token_refresh(integration=body.resolve(self.tenant), actor=self.actor)
        return Response({"integration_id": str(result["integration_id"]), "grant": result["grant"],
                         "expires_at": result["expires_at"]})


class ReimbursementExportApi(SyncApi):
    class ReimbursementExportInputSerializer(SyncTargetSerializer):
        reimbursement_ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=10000)

    @extend_schema(request=ReimbursementExportInputSerializer, responses={202: RunSerializer})
    def post(self, request):
        body = self.ReimbursementExportInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        integration = body.resolve(self.tenant)
        ids = body.validated_data["reimbursement_ids"]
        return _start(self, request, "reimbursements", lambda: reimbursements_export(
            tenant=self.tenant, integration=integration, reimbursement_ids=ids, actor=self.actor))


class ScopedSyncApi(SyncApi):
    """syncMembershipData (members) and syncCourseEnrollments (enrollments)."""

    scope: str = ""
    default_type: str = ""

    class ScopedSyncInputSerializer(StrictSerializer):
        integration_type = serializers.CharField(max_length=100, required=False)
        integration_id = serializers.UUIDField(required=False)
        mode = serializers.ChoiceField(choices=["api", "csv"], required=False, default="api")
        idempotency_key = serializers.CharField(max_length=255, required=False)

    @extend_schema(request=ScopedSyncInputSerializer, responses={202: RunSerializer})
    def post(self, request):
        body = self.ScopedSyncInputSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        integration = sync_integration_resolve(tenant=self.tenant,
                                               integration_type=data.get("integration_type") or self.default_type,
                                               integration_id=data.get("integration_id"))
        return _start(self, request, self.scope, lambda: sync_trigger(
            tenant=self.tenant, integration=integration, scope=self.scope, trigger=RunTrigger.API, actor=self.actor,
            mode=data["mode"]))
