"""Notifications: POST fans one request out to many recipients over several channels; GET
lists and shows them with their messages' statuses. An idempotency key is required: it is
what makes a repeated run (a cron, a client retry) send nothing twice."""
from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from communication.apis.push import StringMapField
from communication.apis.whatsapp import LANGUAGE_TAG, TemplateParameterField
from communication.models import PushNotification
from communication.serializers import MessageFilter, normalise_email
from communication.services import notifications as notification_service
from communication.services.routing import phone_normalise
from communication.services.sms import MAX_BODY_CHARACTERS
from config.api import StrictSerializer, TenantApi
from config.idempotency import idempotency_key_of, idempotent
from integrations.errors import ApplicationError

NOTIFICATION_IDEMPOTENCY_SCOPE = "communication:notifications:send"
CHANNELS = ("email", "sms", "push", "whatsapp")
MAX_RECIPIENTS = 1000
MAX_VARIABLES = 50
_PLAYER_ID = re.compile(r"^[a-zA-Z0-9\-_.~%]{1,100}$")


class VariablesField(serializers.DictField):
    """Placeholder values: names are identifiers, values strings or numbers (kept as text)."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be an object")
        if len(data) > MAX_VARIABLES:
            raise serializers.ValidationError(f"at most {MAX_VARIABLES} variables")
        values = {}
        for name, value in data.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise serializers.ValidationError(f"'{name}' is not a placeholder name")
            if isinstance(value, bool) or not isinstance(value, (str, int, float)) or len(str(value)) > 1000:
                raise serializers.ValidationError(f"'{name}' must be a string or a number of at most 1000 characters")
            values[name] = str(value)
        return values


def _phone(value: str, field: str) -> str:
    try:
        return phone_normalise(value, field=field).e164
    except ApplicationError as exc:
        raise serializers.ValidationError(exc.extra["errors"][field]) from None


class RecipientInput(StrictSerializer):
    id = serializers.CharField(max_length=100, required=False)
    name = serializers.CharField(max_length=200, required=False, default="")
    email = serializers.EmailField(max_length=254, required=False)
    phone = serializers.CharField(max_length=32, required=False)
    push_token = serializers.CharField(max_length=4096, required=False)
    push_platform = serializers.ChoiceField(choices=PushNotification.Platform.choices, required=False)
    player_id = serializers.CharField(max_length=100, required=False)
    whatsapp = serializers.CharField(max_length=32, required=False)
    variables = VariablesField(required=False, default=dict)

    def validate_email(self, value: str) -> str:
        return normalise_email(value)

    def validate_phone(self, value: str) -> str:
        return _phone(value, "phone")

    def validate_whatsapp(self, value: str) -> str:
        return _phone(value, "whatsapp")

    def validate_player_id(self, value: str) -> str:
        if not _PLAYER_ID.match(value):
            raise serializers.ValidationError("a player id is 1-100 of A-Z a-z 0-9 - _ . ~ %")
        return value

    def validate(self, attrs):
        if bool(attrs.get("push_token")) != bool(attrs.get("push_platform")):
            raise serializers.ValidationError({"push_platform": ["push_token and push_platform go together"]})
        return attrs


class EmailTemplateInput(StrictSerializer):
    subject = serializers.CharField(max_length=998)
    body_text = serializers.CharField(max_length=200_000, required=False, trim_whitespace=False)
    body_html = serializers.CharField(max_length=200_000, required=False, trim_whitespace=False)
    template_id = serializers.CharField(max_length=100, required=False)
    template_data = serializers.DictField(required=False)

    def validate(self, attrs):
        if bool(attrs.get("template_id")) == bool(attrs.get("body_text") or attrs.get("body_html")):
            raise serializers.ValidationError({"template_id": [
                "give either template_id (with template_data) or body_text/body_html"]})
        return attrs


class SmsTemplateInput(StrictSerializer):
    body = serializers.CharField(max_length=MAX_BODY_CHARACTERS, trim_whitespace=False)


class PushTemplateInput(StrictSerializer):
    title = serializers.CharField(max_length=200, required=False)
    body = serializers.CharField(max_length=4000, required=False, trim_whitespace=False)
    data = StringMapField(required=False)
    image_url = serializers.CharField(max_length=1000, required=False)
    click_action = serializers.CharField(max_length=500, required=False)
    priority = serializers.ChoiceField(choices=["high", "normal"], required=False)
    ttl_seconds = serializers.IntegerField(min_value=0, max_value=28 * 24 * 3600, required=False)
    collapse_key = serializers.CharField(max_length=100, required=False)
    sound = serializers.CharField(max_length=100, required=False)
    badge_count = serializers.IntegerField(min_value=0, max_value=99_999, required=False)

    def validate_image_url(self, value: str) -> str:
        if not value.lower().startswith("https://"):
            raise serializers.ValidationError("must be an https URL")
        return value

    def validate(self, attrs):
        if not (attrs.get("title") or attrs.get("body") or attrs.get("data")):
            raise serializers.ValidationError({"body": ["a push needs a title, a body or data"]})
        return attrs


class WhatsAppTemplateInput(StrictSerializer):
    template_name = serializers.RegexField(r"^[a-z0-9_]{1,512}$", required=False)
    template_language = serializers.CharField(max_length=35, required=False)
    template_parameters = serializers.ListField(child=TemplateParameterField(), required=False, max_length=50)
    body_text = serializers.CharField(max_length=4096, required=False, trim_whitespace=False)
    preview_url = serializers.BooleanField(required=False)
    media_url = serializers.CharField(max_length=1000, required=False)

    def validate_template_language(self, value: str) -> str:
        if not LANGUAGE_TAG.match(value):
            raise serializers.ValidationError("must be a BCP 47 language tag such as en_US, en-US or sv")
        return value

    def validate(self, attrs):
        if bool(attrs.get("template_name")) == bool(attrs.get("body_text")):
            raise serializers.ValidationError({"template_name": [
                "give template_name (a WhatsApp template) or body_text (a text message)"]})
        if attrs.get("template_name") and "preview_url" in attrs:
            raise serializers.ValidationError({"preview_url": ["only for text messages"]})
        if not attrs.get("template_name") and ("template_parameters" in attrs or "template_language" in attrs):
            raise serializers.ValidationError({"template_parameters": ["only with template_name"]})
        return attrs


class TemplatesInput(StrictSerializer):
    email = EmailTemplateInput(required=False)
    sms = SmsTemplateInput(required=False)
    push = PushTemplateInput(required=False)
    whatsapp = WhatsAppTemplateInput(required=False)


class NotificationInput(StrictSerializer):
    channels = serializers.ListField(child=serializers.ChoiceField(choices=CHANNELS), min_length=1,
                                     max_length=len(CHANNELS))
    templates = TemplatesInput()
    recipients = RecipientInput(many=True, allow_empty=False, max_length=MAX_RECIPIENTS)
    variables = VariablesField(required=False, default=dict)
    idempotency_key = serializers.CharField(max_length=255, required=False)

    def validate_channels(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("each channel once")
        return value

    def validate(self, attrs):
        missing = [channel for channel in attrs["channels"] if channel not in attrs["templates"]]
        unused = [channel for channel in attrs["templates"] if channel not in attrs["channels"]]
        if missing or unused:
            raise serializers.ValidationError({"templates": [
                *(f"no template for channel {channel}" for channel in missing),
                *(f"a template for {channel}, which is not among channels" for channel in unused)]})
        return attrs


class NotificationFilter(MessageFilter):
    pass


def _message_entry(message) -> dict:
    return {"id": str(message.pk), "status": message.status}


def fan_out_body(fan_out: notification_service.FanOut, recipients: list[dict] | None = None) -> dict:
    notification = fan_out.notification
    rows = []
    for index in sorted(fan_out.messages):
        by_channel = fan_out.messages[index]
        label = (dict(recipients[index], index=index) if recipients and 0 <= index < len(recipients) else
                 next(iter(by_channel.values())).metadata.get(notification_service.RECIPIENT_KEY, {"index": index}))
        rows.append({"index": label["index"], "id": label.get("id", ""), "name": label.get("name", ""),
                     "messages": {channel: _message_entry(message) for channel, message in by_channel.items()}})
    statuses = notification_service.status_counts(fan_out)
    return {
        "id": str(notification.pk), "idempotency_key": notification.idempotency_key,
        "channels": notification.channels, "recipient_count": notification.recipient_count,
        "message_count": notification.message_count,
        "counts": {channel: sum(statuses.get(channel, {}).values()) for channel in notification.channels},
        "statuses": statuses, "skipped": fan_out.skipped, "recipients": rows,
        "created_by": notification.created_by, "created_at": notification.created_at.isoformat(),
    }


class NotificationListSendApi(TenantApi):
    scope_area = "communication"

    @extend_schema(request=NotificationInput, responses={202: dict})
    def post(self, request):
        key = idempotency_key_of(request)
        if key is None:
            raise ApplicationError("a notification needs an idempotency key (Idempotency-Key header or "
                                   "idempotency_key): it is what keeps a repeated run from sending twice",
                                   extra={"errors": {"idempotency_key": ["required"]}})

        def handler() -> Response:
            data = NotificationInput(data=request.data)
            data.is_valid(raise_exception=True)
            body = data.validated_data
            recipients = [dict(recipient) for recipient in body["recipients"]]
            fan_out = notification_service.notification_send(
                tenant=self.tenant, idempotency_key=key, channels=body["channels"],
                templates={channel: dict(template) for channel, template in body["templates"].items()},
                recipients=recipients, variables=body["variables"], actor=self.actor)
            shown = None if fan_out.replayed else [
                {"index": i, "id": r.get("id", ""), "name": r.get("name", "")} for i, r in enumerate(recipients)]
            return Response(fan_out_body(fan_out, shown), status=status.HTTP_202_ACCEPTED)

        return idempotent(request, scope=NOTIFICATION_IDEMPOTENCY_SCOPE, tenant=self.tenant, handler=handler)

    @extend_schema(parameters=[NotificationFilter])
    def get(self, request):
        filters = NotificationFilter(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        response = self.paginate(notification_service.notification_list(tenant=self.tenant,
                                                                         filters=filters.validated_data),
                                 NotificationSummary)
        totals = notification_service.notification_status_totals(
            tenant=self.tenant, notification_ids=[row["id"] for row in response.data["results"]])
        for row in response.data["results"]:
            row["statuses"] = {channel: dict(by_status) for channel, by_status in totals.get(row["id"], {}).items()}
        return response


class NotificationSummary(serializers.Serializer):
    id = serializers.UUIDField()
    idempotency_key = serializers.CharField()
    channels = serializers.ListField(child=serializers.CharField())
    recipient_count = serializers.IntegerField()
    message_count = serializers.IntegerField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()


class NotificationDetailApi(TenantApi):
    scope_area = "communication"

    def get(self, request, pk):
        notification = notification_service.notification_get(tenant=self.tenant, notification_id=pk)
        return Response(fan_out_body(notification_service.notification_fan_out(notification=notification)))
