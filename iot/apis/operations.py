"""Sessions, highlight clips and live streams: /api/v1/iot/{sessions,clips,live-streams}/."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from adapters.errors import ProviderError
from config.api import StrictSerializer
from config.idempotency import idempotent
from integrations.errors import ApplicationError
from iot import selectors
from iot.apis.common import IotApi, PageQuery, tenant_court_field
from iot.models import (
    AccessSession,
    ClipStatus,
    ConsumptionRecord,
    HighlightClip,
    LiveStream,
    LiveStreamStatus,
    SessionStatus,
)
from iot.services import access_control, highlights
from iot.services.access import session_check_out
from iot.services.video import VideoPlatformNotConfigured, playback_url


class ProviderFailed(ApplicationError):
    status = 502
    code = "provider_failed"
    title = "The provider did not do it"


def _provider_failure(what: str, exc: ProviderError) -> ProviderFailed:
    status_code = 503 if exc.retryable else 502
    return ProviderFailed(f"{what}: {exc.provider} {'is unavailable' if exc.retryable else 'refused'}",
                          status=status_code, extra={"retryable": exc.retryable})


class ConsumptionOutput(serializers.ModelSerializer):
    class Meta:
        model = ConsumptionRecord
        fields = ["id", "external_id", "description", "quantity", "unit_price", "amount", "currency", "recorded_at"]


class SessionOutput(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.__str__", read_only=True)
    court_code = serializers.CharField(source="court.code", read_only=True)

    class Meta:
        model = AccessSession
        fields = ["id", "member", "member_name", "court", "court_code", "external_session_id", "status",
                  "checked_in_at", "checked_out_at", "consumption_total", "currency", "created_at", "updated_at"]


class SessionQuery(PageQuery):
    status = serializers.ChoiceField(choices=SessionStatus.choices, required=False)
    court = serializers.UUIDField(required=False)
    member = serializers.UUIDField(required=False)
    checked_in_after = serializers.DateTimeField(required=False)
    checked_in_before = serializers.DateTimeField(required=False)


class SessionListApi(IotApi):
    @extend_schema(parameters=[SessionQuery], responses=SessionOutput(many=True))
    def get(self, request):
        return self.paginate(selectors.session_list(tenant=self.tenant, filters=self.filters(SessionQuery)),
                             SessionOutput)


class SessionDetailApi(IotApi):
    def get(self, request, pk):
        session = selectors.session_get(tenant=self.tenant, session_id=pk)
        consumption = selectors.session_consumption(tenant=self.tenant, session=session)
        return Response(SessionOutput(session).data | {"consumption": ConsumptionOutput(consumption, many=True).data})


class CheckoutInput(StrictSerializer):
    idempotency_key = serializers.CharField(max_length=255, required=False)


class SessionCheckoutApi(IotApi):
    """End a session now, at Ziggy and here (a member who left without checking out)."""

    @extend_schema(request=CheckoutInput, responses=SessionOutput)
    def post(self, request, pk):
        session = selectors.session_get(tenant=self.tenant, session_id=pk)

        def check_out():
            CheckoutInput(data=request.data or {}).is_valid(raise_exception=True)
            if session.status != SessionStatus.ACTIVE:
                raise ApplicationError("the session is already checked out", status=409, code="session_closed")
            outcome = session_check_out(session=session, timestamp=timezone.now(), source=f"api:{self.actor}")
            if outcome.outcome == "denied_not_configured":
                raise ApplicationError("the tenant has no active Ziggy config", status=409,
                                       code="access_control_not_configured")
            if outcome.outcome != "checked_out":
                raise ApplicationError("Ziggy did not check the session out; try again", status=503,
                                       code="access_control_unavailable")
            return Response(SessionOutput(outcome.session).data)

        return idempotent(request, scope=f"iot:sessions:{pk}:checkout", tenant=self.tenant, handler=check_out)


def _ziggy_session(session):
    if not session.external_session_id:
        raise ApplicationError("this session is not known to Ziggy", status=409, code="no_external_session")
    try:
        return access_control.access_integration(tenant_id=session.tenant_id)
    except access_control.AccessControlNotConfigured:
        raise ApplicationError("the tenant has no active Ziggy config", status=409,
                               code="access_control_not_configured") from None


class ZiggyConsumptionOutput(serializers.Serializer):
    consumption_id = serializers.CharField()
    item_id = serializers.CharField()
    item_name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    total_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    recorded_at = serializers.DateTimeField()


class ZiggySessionOutput(serializers.Serializer):
    session_id = serializers.CharField()
    user_id = serializers.CharField()
    court_id = serializers.CharField()
    status = serializers.CharField()
    checked_in_at = serializers.DateTimeField()
    checked_out_at = serializers.DateTimeField(allow_null=True)
    consumption_total = serializers.DecimalField(max_digits=12, decimal_places=2)


class SessionAtZiggyApi(IotApi):
    """The session as Ziggy has it now, with its consumption history (read through, for staff)."""

    def get(self, request, pk):
        session = selectors.session_get(tenant=self.tenant, session_id=pk)
        integration = _ziggy_session(session)
        try:
            info = access_control.session_detail(integration=integration, session_id=session.external_session_id)
            history = access_control.consumption_history(integration=integration,
                                                         session_id=session.external_session_id)
        except ProviderError as exc:
            raise _provider_failure("Ziggy did not answer for the session", exc) from None
        return Response({"session": ZiggySessionOutput(info).data,
                         "consumption": ZiggyConsumptionOutput(history, many=True).data})


class ConsumptionInput(StrictSerializer):
    item_id = serializers.RegexField(r"^[A-Za-z0-9._:-]{1,100}$")
    item_name = serializers.CharField(max_length=300)
    quantity = serializers.IntegerField(min_value=1, max_value=1000)
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    idempotency_key = serializers.CharField(max_length=255, required=False)


class SessionConsumptionApi(IotApi):
    """Record something the member bought at Ziggy. Ziggy is the record of consumption: the hub's
    own copy arrives with its `consumption.recorded` webhook, so it is never counted twice."""

    @extend_schema(request=ConsumptionInput, responses={201: ZiggyConsumptionOutput})
    def post(self, request, pk):
        session = selectors.session_get(tenant=self.tenant, session_id=pk)

        def record():
            data = ConsumptionInput(data=request.data)
            data.is_valid(raise_exception=True)
            if session.status != SessionStatus.ACTIVE:
                raise ApplicationError("the session is checked out", status=409, code="session_closed")
            integration = _ziggy_session(session)
            fields = {k: v for k, v in data.validated_data.items() if k != "idempotency_key"}
            try:
                recorded = access_control.record_consumption(integration=integration,
                                                             session_id=session.external_session_id, **fields)
            except ProviderError as exc:
                raise _provider_failure("Ziggy did not record the consumption", exc) from None
            return Response(ZiggyConsumptionOutput(recorded).data, status=status.HTTP_201_CREATED)

        return idempotent(request, scope=f"iot:sessions:{pk}:consumption", tenant=self.tenant, handler=record)


class ClipOutput(serializers.ModelSerializer):
    court = serializers.UUIDField(source="live_stream.court_id", read_only=True)
    playback_url = serializers.SerializerMethodField()

    class Meta:
        model = HighlightClip
        fields = ["id", "court", "live_stream", "session", "status", "pressed_at", "window_start", "window_end",
                  "start_offset_seconds", "end_offset_seconds", "provider_asset_id", "playback_id", "playback_url",
                  "error_message", "created_at", "updated_at"]

    def get_playback_url(self, clip) -> str | None:
        return playback_url(clip.playback_id) if clip.playback_id else None


class ClipQuery(PageQuery):
    status = serializers.ChoiceField(choices=ClipStatus.choices, required=False)
    court = serializers.UUIDField(required=False)
    session = serializers.UUIDField(required=False)


class ClipListApi(IotApi):
    @extend_schema(parameters=[ClipQuery], responses=ClipOutput(many=True))
    def get(self, request):
        return self.paginate(selectors.clip_list(tenant=self.tenant, filters=self.filters(ClipQuery)), ClipOutput)


class ClipDetailApi(IotApi):
    @extend_schema(responses=ClipOutput)
    def get(self, request, pk):
        return Response(ClipOutput(selectors.clip_get(tenant=self.tenant, clip_id=pk)).data)

    def delete(self, request, pk):
        clip = selectors.clip_get(tenant=self.tenant, clip_id=pk)
        try:
            highlights.highlight_clip_delete(clip=clip, actor=self.actor)
        except ProviderError as exc:
            raise _provider_failure("the clip could not be deleted at Mux", exc) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class LiveStreamOutput(serializers.ModelSerializer):
    playback_url = serializers.SerializerMethodField()

    class Meta:
        model = LiveStream
        fields = ["id", "court", "integration", "provider_stream_id", "playback_id", "playback_url", "status",
                  "active_asset_id", "started_at", "ended_at", "created_at", "updated_at"]

    def get_playback_url(self, stream) -> str | None:
        return playback_url(stream.playback_id) if stream.playback_id else None


class LiveStreamInput(StrictSerializer):
    court = serializers.UUIDField()
    idempotency_key = serializers.CharField(max_length=255, required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["court"] = tenant_court_field()
        return fields


class LiveStreamQuery(PageQuery):
    status = serializers.ChoiceField(choices=LiveStreamStatus.choices, required=False)
    court = serializers.UUIDField(required=False)


class LiveStreamListCreateApi(IotApi):
    @extend_schema(parameters=[LiveStreamQuery], responses=LiveStreamOutput(many=True))
    def get(self, request):
        return self.paginate(selectors.live_stream_list(tenant=self.tenant, filters=self.filters(LiveStreamQuery)),
                             LiveStreamOutput)

    @extend_schema(request=LiveStreamInput, responses={201: LiveStreamOutput})
    def post(self, request):
        """Create the court's live stream at Mux. The stream key is in this answer only: it is
        kept in the secret store, and not in the idempotency record a replay answers from."""
        created_key: list[str] = []

        def create():
            data = LiveStreamInput(data=request.data, context={"tenant": self.tenant})
            data.is_valid(raise_exception=True)
            try:
                stream, stream_key = highlights.live_stream_start(
                    tenant=self.tenant, court=data.validated_data["court"], actor=self.actor)
            except VideoPlatformNotConfigured:
                raise ApplicationError("the tenant has no active Mux streaming integration", status=409,
                                       code="video_platform_not_configured") from None
            except ProviderError as exc:
                raise _provider_failure("Mux did not create the live stream", exc) from None
            created_key.append(stream_key)
            return Response(LiveStreamOutput(stream).data, status=status.HTTP_201_CREATED)

        response = idempotent(request, scope="iot:live-streams:create", tenant=self.tenant, handler=create)
        if created_key and response.status_code == status.HTTP_201_CREATED:
            response.data = {**response.data, "stream_key": created_key[0]}
        return response


class LiveStreamDetailApi(IotApi):
    @extend_schema(responses=LiveStreamOutput)
    def get(self, request, pk):
        return Response(LiveStreamOutput(selectors.live_stream_get(tenant=self.tenant, live_stream_id=pk)).data)


class LiveStreamCompleteApi(IotApi):
    @extend_schema(request=CheckoutInput, responses=LiveStreamOutput)
    def post(self, request, pk):
        stream = selectors.live_stream_get(tenant=self.tenant, live_stream_id=pk)

        def complete():
            CheckoutInput(data=request.data or {}).is_valid(raise_exception=True)
            try:
                completed = highlights.live_stream_complete(live_stream=stream, actor=self.actor)
            except ProviderError as exc:
                raise _provider_failure("Mux did not complete the live stream", exc) from None
            return Response(LiveStreamOutput(completed).data)

        return idempotent(request, scope=f"iot:live-streams:{pk}:complete", tenant=self.tenant, handler=complete)
