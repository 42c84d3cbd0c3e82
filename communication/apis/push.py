"""Push endpoints: send through FCM (POST fcm/push/), list and detail (push/)."""
from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from communication.models import DeliveryAttempt, PushNotification
from communication.serializers import DeliveryAttemptOutput, MessageFilter, RouteMixin
from communication.services import push as push_service
from communication.services.push import push_data_check
from communication.selectors import delivery_attempt_list
from config.api import StrictSerializer, TenantApi
from config.idempotency import idempotency_key_of, idempotent
from integrations.errors import ApplicationError

PUSH_IDEMPOTENCY_SCOPE = "communication:push:send"
MAX_TTL_SECONDS = 28 * 24 * 3600  # FCM keeps a message at most four weeks
# FCM topic names (https://firebase.google.com/docs/cloud-messaging/send-message#send-messages-to-topics).
_TOPIC = re.compile(r"^[a-zA-Z0-9\-_.~%]{1,900}$")
_PLAYER_ID = re.compile(r"^[a-zA-Z0-9\-_.~%]{1,100}$")
SHARED_OUTPUT = ["id", "config", "provider", "status", "idempotency_key", "provider_message_id", "attempts",
                 "sent_at", "delivered_at", "failed_at", "last_error", "error_code", "notification", "route",
                 "created_at", "updated_at"]


class StringMapField(serializers.DictField):
    """A flat object whose values are strings as sent (DictField(CharField) would turn 1 into "1")."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be an object")
        wrong = sorted(str(key) for key, value in data.items() if not isinstance(value, str))
        if wrong:
            raise serializers.ValidationError(f"values must be strings: {', '.join(wrong)}")
        return dict(data)


class PushSendInput(StrictSerializer):
    target_token = serializers.CharField(max_length=4096, required=False, default="")
    target_platform = serializers.ChoiceField(choices=PushNotification.Platform.choices, required=False,
                                              default="")
    player_id = serializers.CharField(max_length=100, required=False, default="")
    topic = serializers.CharField(max_length=900, required=False, default="")
    title = serializers.CharField(max_length=200, required=False, default="")
    body = serializers.CharField(max_length=4000, required=False, default="", trim_whitespace=False)
    image_url = serializers.URLField(max_length=1000, required=False, default="")
    data = StringMapField(required=False, default=dict)
    priority = serializers.ChoiceField(choices=["high", "normal"], required=False, default="")
    ttl_seconds = serializers.IntegerField(min_value=0, max_value=MAX_TTL_SECONDS, required=False, default=None)
    collapse_key = serializers.CharField(max_length=100, required=False, default="")
    badge_count = serializers.IntegerField(min_value=0, max_value=99_999, required=False, default=None)
    sound = serializers.CharField(max_length=100, required=False, default="")
    click_action = serializers.CharField(max_length=500, required=False, default="")
    config = serializers.UUIDField(required=False)
    idempotency_key = serializers.CharField(max_length=255, required=False)

    def validate_topic(self, value: str) -> str:
        value = value.removeprefix("/topics/")
        if value and not _TOPIC.match(value):
            raise serializers.ValidationError("an FCM topic is 1-900 of A-Z a-z 0-9 - _ . ~ %")
        return value

    def validate_player_id(self, value: str) -> str:
        if value and not _PLAYER_ID.match(value):
            raise serializers.ValidationError("a player id is 1-100 of A-Z a-z 0-9 - _ . ~ %")
        return value

    def validate_image_url(self, value: str) -> str:
        if value and not value.lower().startswith("https://"):
            raise serializers.ValidationError("must be an https URL (devices fetch it themselves)")
        return value

    def validate_data(self, value: dict) -> dict:
        try:
            return push_data_check(value)
        except ApplicationError as exc:
            raise serializers.ValidationError(exc.extra["errors"]["data"]) from None

    def validate(self, attrs):
        targets = [name for name in ("target_token", "player_id", "topic") if attrs.get(name)]
        if len(targets) != 1:
            raise serializers.ValidationError({name: ["give exactly one target: target_token (with "
                                                      "target_platform), player_id or topic"]
                                               for name in (targets or ["target_token"])})
        if attrs.get("target_token") and not attrs.get("target_platform"):
            raise serializers.ValidationError({"target_platform": ["required with target_token"]})
        if attrs.get("target_platform") and not attrs.get("target_token"):
            raise serializers.ValidationError({"target_platform": ["only with target_token"]})
        if not (attrs.get("title") or attrs.get("body") or attrs.get("data")):
            raise serializers.ValidationError({"body": ["a push needs a title, a body or data"]})
        return attrs


class PushFilter(MessageFilter):
    status = serializers.ChoiceField(choices=PushNotification.Status.choices, required=False)
    provider = serializers.ChoiceField(choices=["fcm"], required=False)
    topic = serializers.CharField(max_length=900, required=False)
    player_id = serializers.CharField(max_length=100, required=False)
    target_token = serializers.CharField(max_length=4096, required=False)


class PushOutput(RouteMixin, serializers.ModelSerializer):
    class Meta:
        model = PushNotification
        fields = SHARED_OUTPUT + ["target_token", "target_platform", "player_id", "topic", "title", "body",
                                  "image_url", "data", "priority", "ttl_seconds", "collapse_key", "badge_count",
                                  "sound", "click_action"]


class PushSendApi(TenantApi):
    """POST sends one push through FCM: the named config or the tenant's active one. At most
    4 KB of data, and 4096 bytes for the whole message as FCM receives it."""

    scope_area = "communication"

    @extend_schema(request=PushSendInput, responses={202: PushOutput})
    def post(self, request):
        def handler() -> Response:
            data = PushSendInput(data=request.data)
            data.is_valid(raise_exception=True)
            body = dict(data.validated_data)
            body.pop("idempotency_key", None)
            message = push_service.push_send(tenant=self.tenant, config_id=body.pop("config", None),
                                             idempotency_key=idempotency_key_of(request), **body)
            return Response(PushOutput(message).data, status=status.HTTP_202_ACCEPTED)

        return idempotent(request, scope=PUSH_IDEMPOTENCY_SCOPE, tenant=self.tenant, handler=handler)


class PushListApi(TenantApi):
    scope_area = "communication"

    @extend_schema(parameters=[PushFilter], responses=PushOutput(many=True))
    def get(self, request):
        filters = PushFilter(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return self.paginate(push_service.push_list(tenant=self.tenant, filters=filters.validated_data), PushOutput)


class PushDetailApi(TenantApi):
    scope_area = "communication"

    @extend_schema(responses=PushOutput)
    def get(self, request, pk):
        message = push_service.push_get(tenant=self.tenant, message_id=pk)
        attempts = delivery_attempt_list(tenant=self.tenant, message_kind=DeliveryAttempt.Kind.PUSH,
                                         message_id=message.pk)
        return Response(PushOutput(message).data
                        | {"delivery_attempts": DeliveryAttemptOutput(attempts, many=True).data})

