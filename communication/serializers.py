"""Input and output of the email and SMS endpoints."""

from __future__ import annotations

import json

from rest_framework import serializers

from communication.models import DeliveryAttempt, EmailMessage, SmsMessage
from communication.services.attempts import ROUTE
from communication.services.sms import MAX_BODY_CHARACTERS
from config.api import StrictSerializer
from integrations.errors import ApplicationError

MAX_RECIPIENTS = 1000
MAX_BODY_TEXT = 200_000
MAX_TEMPLATE_DATA_BYTES = 64 * 1024
MAX_TEMPLATE_DATA_DEPTH = 10


def normalise_email(address: str) -> str:
    """The domain of an address is case-insensitive; the local part is left as written."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


class EmailRecipientInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_email(self, value: str) -> str:
        return normalise_email(value)


def _check_template_value(value, depth: int = 0) -> None:
    if depth > MAX_TEMPLATE_DATA_DEPTH:
        raise serializers.ValidationError(f"is nested deeper than {MAX_TEMPLATE_DATA_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_template_value(key, depth + 1)
            _check_template_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_template_value(item, depth + 1)
    elif isinstance(value, str) and "\x00" in value:
        # PostgreSQL's jsonb cannot store U+0000.
        raise serializers.ValidationError("contains a NUL character")


class TemplateDataField(serializers.DictField):
    """An object of template variables (a list or a scalar is the wrong shape)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        _check_template_value(value)
        if len(json.dumps(value).encode()) > MAX_TEMPLATE_DATA_BYTES:
            raise serializers.ValidationError(
                f"is larger than {MAX_TEMPLATE_DATA_BYTES} bytes as JSON"
            )
        return value


class EmailSendInput(StrictSerializer):
    to = EmailRecipientInput(many=True, allow_empty=False, max_length=MAX_RECIPIENTS)
    subject = serializers.CharField(max_length=998)
    template_id = serializers.CharField(max_length=100, required=False, default="")
    template_data = TemplateDataField(required=False)
    body_text = serializers.CharField(
        max_length=MAX_BODY_TEXT, required=False, default="", trim_whitespace=False
    )
    body_html = serializers.CharField(
        max_length=MAX_BODY_TEXT, required=False, default="", trim_whitespace=False
    )
    idempotency_key = serializers.CharField(max_length=255, required=False)

    def validate_to(self, value: list[dict]) -> list[dict]:
        seen, duplicates = set(), []
        for recipient in value:
            key = recipient["email"].lower()
            if key in seen:
                duplicates.append(recipient["email"])
            seen.add(key)
        if duplicates:
            raise serializers.ValidationError(
                f"each recipient once; repeated: {', '.join(duplicates)}"
            )
        return value

    def validate(self, attrs):
        has_template = bool(attrs.get("template_id"))
        has_body = bool(attrs.get("body_text") or attrs.get("body_html"))
        if has_template and has_body:
            rule = "give either template_id (with template_data) or body_text/body_html, not both"
            raise serializers.ValidationError({"template_id": [rule]})
        if not has_template and not has_body:
            raise serializers.ValidationError(
                {"body_text": ["give template_id (with template_data) or body_text/body_html"]}
            )
        if "template_data" in attrs and not has_template:
            raise serializers.ValidationError({"template_data": ["only with template_id"]})
        return attrs


class ProviderEmailSendInput(EmailSendInput):
    config = serializers.UUIDField(required=False)


class TextField(serializers.CharField):
    """A JSON string and nothing else: DRF's CharField would take 46701234567 (a number) too."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class SmsSendInput(StrictSerializer):
    to = TextField(max_length=32)
    body = TextField(max_length=MAX_BODY_CHARACTERS, trim_whitespace=False)
    idempotency_key = serializers.CharField(max_length=255, required=False)


class ProviderSmsSendInput(SmsSendInput):
    config = serializers.UUIDField(required=False)


class MessageFilter(StrictSerializer):
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)


class EmailFilter(MessageFilter):
    status = serializers.ChoiceField(choices=EmailMessage.Status.choices, required=False)
    provider = serializers.ChoiceField(choices=["sendgrid", "mailgun"], required=False)
    to = serializers.EmailField(max_length=254, required=False)

    def validate_to(self, value: str) -> str:
        return normalise_email(value)


class SmsFilter(MessageFilter):
    status = serializers.ChoiceField(choices=SmsMessage.Status.choices, required=False)
    provider = serializers.ChoiceField(choices=["elks46", "twilio"], required=False)
    to = serializers.CharField(max_length=32, required=False)

    def validate_to(self, value: str) -> str:
        from communication.services.routing import phone_normalise

        try:
            return phone_normalise(value).e164
        except ApplicationError as exc:
            raise serializers.ValidationError(exc.detail) from None


class DeliveryAttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "id",
            "config",
            "provider",
            "outcome",
            "status_code",
            "error",
            "latency_ms",
            "created_at",
        ]


_SHARED_OUTPUT = [
    "id",
    "config",
    "provider",
    "status",
    "idempotency_key",
    "provider_message_id",
    "attempts",
    "sent_at",
    "delivered_at",
    "failed_at",
    "last_error",
    "error_code",
    "notification",
    "route",
    "created_at",
    "updated_at",
]


class RouteMixin(serializers.Serializer):
    route = serializers.SerializerMethodField()

    def get_route(self, obj) -> list[str]:
        return [str(config_id) for config_id in obj.metadata.get(ROUTE, [])]


class EmailOutput(RouteMixin, serializers.ModelSerializer):
    class Meta:
        model = EmailMessage
        fields = _SHARED_OUTPUT + [
            "to",
            "subject",
            "template_id",
            "template_data",
            "body_text",
            "body_html",
            "open_count",
            "click_count",
            "bounce_count",
            "first_opened_at",
            "last_opened_at",
            "bounce_type",
            "unsubscribed",
        ]


class SmsOutput(RouteMixin, serializers.ModelSerializer):
    class Meta:
        model = SmsMessage
        fields = _SHARED_OUTPUT + [
            "direction",
            "from_number",
            "to",
            "body",
            "encoding",
            "segments",
            "cost_amount",
            "cost_currency",
        ]
