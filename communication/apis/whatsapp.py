"""WhatsApp endpoints: template and text sends, list and detail (whatsapp/messages/)."""
from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from communication.apis.push import SHARED_OUTPUT
from communication.models import DeliveryAttempt, WhatsAppMessage
from communication.selectors import delivery_attempt_list
from communication.serializers import DeliveryAttemptOutput, MessageFilter, RouteMixin
from communication.services import whatsapp as whatsapp_service
from communication.services.routing import phone_normalise
from config.api import StrictSerializer, TenantApi
from config.idempotency import idempotency_key_of, idempotent
from integrations.errors import ApplicationError
from integrations.families.validators import normalise_currency

# One scope for both send endpoints: a key names one message, whichever endpoint it came to.
WHATSAPP_IDEMPOTENCY_SCOPE = "communication:whatsapp:send"
# BCP 47 language[-script][-region], with the underscore WhatsApp template languages use (en_US).
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z]{4})?([_-]([A-Za-z]{2}|[0-9]{3}))?$")
MAX_PARAMETERS = 50
MAX_PARAMETER_TEXT = 1024
MAX_BODY_TEXT = 4096
MEDIA_TYPES = ("image", "video", "document")
COMPONENTS = ("body", "header")
# Meta refuses a text parameter with a new line, a tab or more than four spaces in a row
# (error 132018).
_BAD_TEXT_PARAMETER = re.compile(r"[\n\t]| {5,}")


def _https_url(value, where: str) -> str:
    if not isinstance(value, str) or not value.lower().startswith("https://") or len(value) > 1000:
        raise serializers.ValidationError(f"{where} must be an https URL of at most 1000 characters")
    return value


def _text(value, where: str, limit: int = MAX_PARAMETER_TEXT) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise serializers.ValidationError(f"{where} must be a string of 1 to {limit} characters")
    return value


def _keys(value: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise serializers.ValidationError(f"{where} has unknown fields: {', '.join(unknown)}")


def _typed_parameter(value: dict) -> dict:
    kind = value.get("type")
    component = value.get("component", "header" if kind in MEDIA_TYPES else "body")
    if component not in COMPONENTS:
        raise serializers.ValidationError(f"component must be one of {', '.join(COMPONENTS)}")
    if kind == "text":
        _keys(value, {"type", "text", "component"}, "a text parameter")
        text = _text(value.get("text"), "text")
        if _BAD_TEXT_PARAMETER.search(text):
            raise serializers.ValidationError("text must not hold new lines, tabs or more than four spaces in a row")
        return {"type": "text", "text": text, "component": component}
    if kind == "currency":
        _keys(value, {"type", "currency", "component"}, "a currency parameter")
        currency = value.get("currency")
        if not isinstance(currency, dict):
            raise serializers.ValidationError("currency must be an object")
        _keys(currency, {"fallback_value", "code", "amount_1000"}, "currency")
        amount = currency.get("amount_1000")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise serializers.ValidationError("currency.amount_1000 must be an integer (the amount times 1000)")
        try:
            code = normalise_currency(str(currency.get("code", "")))
        except ValueError as exc:
            raise serializers.ValidationError(f"currency.code: {exc}") from None
        return {"type": "currency", "component": component, "currency": {
            "fallback_value": _text(currency.get("fallback_value"), "currency.fallback_value"),
            "code": code, "amount_1000": amount}}
    if kind == "date_time":
        _keys(value, {"type", "date_time", "component"}, "a date_time parameter")
        date_time = value.get("date_time")
        if not isinstance(date_time, dict):
            raise serializers.ValidationError("date_time must be an object")
        _keys(date_time, {"fallback_value"}, "date_time")
        return {"type": "date_time", "component": component,
                "date_time": {"fallback_value": _text(date_time.get("fallback_value"), "date_time.fallback_value")}}
    if kind in MEDIA_TYPES:
        _keys(value, {"type", kind, "component"}, f"an {kind} parameter")
        media = value.get(kind)
        if not isinstance(media, dict):
            raise serializers.ValidationError(f"{kind} must be an object with a link")
        extra = {"filename"} if kind == "document" else set()
        _keys(media, {"link"} | extra, kind)
        return {"type": kind, "component": component, kind: {k: (_https_url(v, f"{kind}.link") if k == "link"
                                                                 else _text(v, f"{kind}.{k}", 240))
                                                             for k, v in media.items()}}
    raise serializers.ValidationError("type must be one of text, currency, date_time, image, video, document")


class TemplateParameterField(serializers.Field):
    """A string (a body text parameter) or a typed parameter object."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            text = _text(data, "a text parameter")
            if _BAD_TEXT_PARAMETER.search(text):
                raise serializers.ValidationError("must not hold new lines, tabs or more than four spaces in a row")
            return text
        if isinstance(data, dict):
            return _typed_parameter(data)
        raise serializers.ValidationError("a template parameter is a string or a parameter object")

    def to_representation(self, value):
        return value


class WhatsAppSendInput(StrictSerializer):
    to = serializers.CharField(max_length=32)
    media_url = serializers.CharField(max_length=1000, required=False, default="")
    config = serializers.UUIDField(required=False)
    idempotency_key = serializers.CharField(max_length=255, required=False)

    def validate_media_url(self, value: str) -> str:
        return _https_url(value, "media_url") if value else value


class TemplateSendInput(WhatsAppSendInput):
    template_name = serializers.RegexField(r"^[a-z0-9_]{1,512}$", error_messages={
        "invalid": "a template name is lowercase letters, digits and underscores"})
    template_language = serializers.CharField(max_length=35, required=False, default="")
    template_parameters = serializers.ListField(child=TemplateParameterField(), required=False, default=list,
                                                max_length=MAX_PARAMETERS)

    def validate_template_language(self, value: str) -> str:
        if value and not LANGUAGE_TAG.match(value):
            raise serializers.ValidationError("must be a BCP 47 language tag such as en_US, en-US or sv")
        return value

    def validate(self, attrs):
        headers = [p for p in attrs.get("template_parameters", []) if isinstance(p, dict) and
                   p["component"] == "header"] + ([attrs["media_url"]] if attrs.get("media_url") else [])
        if len(headers) > 1:
            raise serializers.ValidationError({"template_parameters": [
                "a template has one header: give one header parameter or media_url, not more"]})
        return attrs


class TextSendInput(WhatsAppSendInput):
    body_text = serializers.CharField(max_length=MAX_BODY_TEXT, required=False, default="", trim_whitespace=False)
    preview_url = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("body_text") and not attrs.get("media_url"):
            raise serializers.ValidationError({"body_text": ["a text message needs body_text (or a media_url)"]})
        return attrs


class WhatsAppFilter(MessageFilter):
    status = serializers.ChoiceField(choices=WhatsAppMessage.Status.choices, required=False)
    provider = serializers.ChoiceField(choices=["whatsapp"], required=False)
    direction = serializers.ChoiceField(choices=WhatsAppMessage.Direction.choices, required=False)
    message_type = serializers.ChoiceField(choices=WhatsAppMessage.MessageType.choices, required=False)
    to = serializers.CharField(max_length=32, required=False)

    def validate_to(self, value: str) -> str:
        try:
            return phone_normalise(value).e164
        except ApplicationError as exc:
            raise serializers.ValidationError(exc.detail) from None


class WhatsAppOutput(RouteMixin, serializers.ModelSerializer):
    preview_url = serializers.SerializerMethodField()

    class Meta:
        model = WhatsAppMessage
        fields = SHARED_OUTPUT + ["direction", "to", "from_number", "message_type", "template_name",
                                  "template_language", "template_parameters", "body_text", "preview_url",
                                  "media_url", "read_at"]

    def get_preview_url(self, obj) -> bool:
        return bool(obj.metadata.get("preview_url"))


class WhatsAppSendApi(TenantApi):
    """POST sends one template or text message: the named config or the tenant's active one."""

    scope_area = "communication"
    message_type: str = ""

    def post(self, request):
        input_serializer = TemplateSendInput if self.message_type == "template" else TextSendInput

        def handler() -> Response:
            data = input_serializer(data=request.data)
            data.is_valid(raise_exception=True)
            body = dict(data.validated_data)
            body.pop("idempotency_key", None)
            message = whatsapp_service.whatsapp_send(
                tenant=self.tenant, message_type=self.message_type, config_id=body.pop("config", None),
                idempotency_key=idempotency_key_of(request), **body)
            return Response(WhatsAppOutput(message).data, status=status.HTTP_202_ACCEPTED)

        return idempotent(request, scope=WHATSAPP_IDEMPOTENCY_SCOPE, tenant=self.tenant, handler=handler)


class WhatsAppTemplateSendApi(WhatsAppSendApi):
    message_type = WhatsAppMessage.MessageType.TEMPLATE

    @extend_schema(request=TemplateSendInput, responses={202: WhatsAppOutput})
    def post(self, request):
        return super().post(request)


class WhatsAppTextSendApi(WhatsAppSendApi):
    message_type = WhatsAppMessage.MessageType.TEXT

    @extend_schema(request=TextSendInput, responses={202: WhatsAppOutput})
    def post(self, request):
        return super().post(request)


class WhatsAppListApi(TenantApi):
    scope_area = "communication"

    @extend_schema(parameters=[WhatsAppFilter], responses=WhatsAppOutput(many=True))
    def get(self, request):
        filters = WhatsAppFilter(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return self.paginate(whatsapp_service.whatsapp_list(tenant=self.tenant, filters=filters.validated_data),
                             WhatsAppOutput)


class WhatsAppDetailApi(TenantApi):
    scope_area = "communication"

    @extend_schema(responses=WhatsAppOutput)
    def get(self, request, pk):
        message = whatsapp_service.whatsapp_get(tenant=self.tenant, message_id=pk)
        attempts = delivery_attempt_list(tenant=self.tenant, message_kind=DeliveryAttempt.Kind.WHATSAPP,
                                         message_id=message.pk)
        return Response(WhatsAppOutput(message).data
                        | {"delivery_attempts": DeliveryAttemptOutput(attempts, many=True).data})
