"""The six communication provider configs: their input (field validation), their bindings
(adapter config from the row, pre-flight call) and the spec each config route is mounted with.

Each provider has a `ConfigSpec`, a FamilySpec of one provider, served by the generic
integration views at /api/v1/communication/<slug>/configs/ (see communication/urls.py).
Together their bindings form the "communication" family in the integrations registry, so
validation, webhook URLs and sends find them like any other family's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from django.db import transaction
from rest_framework import serializers

from adapters.providers import elks46, fcm, mailgun, sendgrid, twilio, whatsapp
from communication.models import (
    ElksConfig,
    FcmConfig,
    MailgunConfig,
    SendGridConfig,
    TwilioConfig,
    WhatsAppConfig,
)
from communication.services.routing import region_for_calling_code
from communication.services.sms import elks_webhook_token_ensure, is_gsm7_text
from integrations.errors import ApplicationError
from integrations.families.registry import FamilySpec, ProviderBinding, register_app_family
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from integrations.models import Family, Integration
from integrations.services.integrations import integration_create

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_DIGITS = re.compile(r"^[0-9]{1,32}$")
# A Google Cloud project id: 6-30 lowercase letters, digits and hyphens, starting with a letter.
_GCP_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
# BCP 47 language[-script][-region], with the underscore WhatsApp template languages use (en_US).
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z]{4})?([_-]([A-Za-z]{2}|[0-9]{3}))?$")
_FCM_MAX_TTL_SECONDS = 28 * 24 * 3600  # FCM keeps a message at most four weeks
_ALPHANUMERIC_SENDER_MAX = 11


def e164(value: str, field: str) -> str:
    """An E.164 number as typed by an admin ("+46 70-123 45 67"), normalised."""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if (
        not value.strip().startswith("+")
        or parsed is None
        or not phonenumbers.is_valid_number(parsed)
    ):
        raise serializers.ValidationError(
            f"{field} must be a valid number in E.164 form (+<country code><number>)"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def callback_url(value: str) -> str:
    if value and not value.lower().startswith(("https://", "http://")):
        raise serializers.ValidationError("must be an http(s) URL")
    return value


@dataclass(frozen=True)
class ConfigSpec(FamilySpec):
    """One provider's config kind. `providers` holds its binding once its sends exist."""

    provider: str = ""
    url_slug: str = ""

    def create(self, *, tenant, data: dict, actor: str) -> Integration:
        with transaction.atomic():
            config = integration_create(tenant=tenant, spec=self, data=data, actor=actor)
            if isinstance(config, ElksConfig):
                elks_webhook_token_ensure(config=config)
        return config


class ConfigInput(IntegrationInputSerializer):
    """The provider comes from the route; a body may repeat it, never change it."""

    def get_fields(self):
        fields = super().get_fields()
        if "provider" in fields and self.instance is None:
            provider = self.context["spec"].provider
            fields["provider"] = serializers.ChoiceField(
                choices=[provider], required=False, default=provider
            )
        return fields

    def validate_provider(self, value: str) -> str:
        return value


class SendGridInput(ConfigInput):
    allowed_capabilities = ("email", "templates")
    ip_pool_name = serializers.CharField(
        min_length=2, max_length=64, required=False, allow_blank=True
    )

    class Meta:
        model = SendGridConfig
        fields = BASE_INPUT_FIELDS + [
            "api_key_ref",
            "webhook_signing_key_ref",
            "from_email",
            "from_name",
            "reply_to_email",
            "enable_open_tracking",
            "enable_click_tracking",
            "enable_unsubscribe_tracking",
            "ip_pool_name",
        ]


class MailgunInput(ConfigInput):
    allowed_capabilities = ("email", "templates")

    class Meta:
        model = MailgunConfig
        fields = BASE_INPUT_FIELDS + [
            "api_key_ref",
            "webhook_signing_key_ref",
            "domain",
            "region",
            "from_email",
            "from_name",
            "enable_tracking",
            "enable_click_tracking",
            "test_mode",
        ]

    def validate_domain(self, value: str) -> str:
        domain = value.strip().lower().rstrip(".")
        if not _HOSTNAME.match(domain):
            raise serializers.ValidationError("must be a sending domain such as mg.example.org")
        return domain


class ElksInput(ConfigInput):
    allowed_capabilities = ("sms",)
    dlr_callback_url = serializers.URLField(max_length=500, required=False, allow_blank=True)

    class Meta:
        model = ElksConfig
        fields = BASE_INPUT_FIELDS + [
            "api_username_ref",
            "api_password_ref",
            "sender_id",
            "default_country_code",
            "dlr_callback_url",
        ]

    def validate_sender_id(self, value: str) -> str:
        if value.startswith("+"):
            return e164(value, "sender_id")
        if (
            not value
            or len(value) > _ALPHANUMERIC_SENDER_MAX
            or not is_gsm7_text(value)
            or not any(ch.isalpha() for ch in value)
            or value != value.strip()
            or "\n" in value
            or "\r" in value
        ):
            raise serializers.ValidationError(
                f"must be 1-{_ALPHANUMERIC_SENDER_MAX} GSM characters with at least one letter "
                "(an alphanumeric sender), or an E.164 number"
            )
        return value

    def validate_dlr_callback_url(self, value: str) -> str:
        return callback_url(value)

    def validate_default_country_code(self, value: str) -> str:
        if region_for_calling_code(value) is None:
            raise serializers.ValidationError("must be a country calling code in use, such as +46")
        return value


class TwilioInput(ConfigInput):
    allowed_capabilities = ("sms",)
    supported_countries = serializers.ListField(
        child=serializers.CharField(max_length=2),
        min_length=1,
        max_length=len(phonenumbers.SUPPORTED_REGIONS),
    )
    status_callback_url = serializers.URLField(max_length=500, required=False, allow_blank=True)

    class Meta:
        model = TwilioConfig
        fields = BASE_INPUT_FIELDS + [
            "account_sid_ref",
            "auth_token_ref",
            "messaging_service_sid",
            "from_number",
            "status_callback_url",
            "supported_countries",
        ]

    def validate_messaging_service_sid(self, value: str) -> str:
        if value and not _MESSAGING_SERVICE_SID.match(value):
            raise serializers.ValidationError(
                "must be a Messaging Service SID: MG followed by 32 hex digits"
            )
        return value

    def validate_from_number(self, value: str) -> str:
        return e164(value, "from_number") if value else value

    def validate_status_callback_url(self, value: str) -> str:
        return callback_url(value)

    def validate_supported_countries(self, value: list[str]) -> list[str]:
        codes = [code.strip().upper() for code in value]
        unknown = [code for code in codes if code not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise serializers.ValidationError(
                f"not ISO 3166 alpha-2 countries with a numbering plan: {', '.join(unknown)}"
            )
        return list(dict.fromkeys(codes))

    def validate(self, attrs):
        service = attrs.get(
            "messaging_service_sid", getattr(self.instance, "messaging_service_sid", "")
        )
        number = attrs.get("from_number", getattr(self.instance, "from_number", ""))
        if bool(service) == bool(number):
            raise serializers.ValidationError(
                {
                    "messaging_service_sid": [
                        "give exactly one of messaging_service_sid and from_number"
                    ]
                }
            )
        return attrs


class FcmInput(ConfigInput):
    allowed_capabilities = ("push",)
    default_ttl_seconds = serializers.IntegerField(
        min_value=0, max_value=_FCM_MAX_TTL_SECONDS, required=False
    )

    class Meta:
        model = FcmConfig
        fields = BASE_INPUT_FIELDS + [
            "service_account_json_ref",
            "project_id",
            "default_ttl_seconds",
            "default_priority",
        ]

    def validate_project_id(self, value: str) -> str:
        if not _GCP_PROJECT_ID.match(value):
            raise serializers.ValidationError(
                "must be a Firebase project id: 6-30 lowercase letters, digits "
                "and hyphens, starting with a letter"
            )
        return value


class WhatsAppInput(ConfigInput):
    allowed_capabilities = ("templates", "text")

    class Meta:
        model = WhatsAppConfig
        fields = BASE_INPUT_FIELDS + [
            "access_token_ref",
            "webhook_verify_token_ref",
            "app_secret_ref",
            "phone_number_id",
            "business_account_id",
            "display_phone_number",
            "business_name",
            "default_language_code",
        ]

    def validate_phone_number_id(self, value: str) -> str:
        if not _DIGITS.match(value):
            raise serializers.ValidationError(
                "must be the numeric phone number id from WhatsApp Manager"
            )
        return value

    def validate_business_account_id(self, value: str) -> str:
        if value and not _DIGITS.match(value):
            raise serializers.ValidationError("must be the numeric WhatsApp Business Account id")
        return value

    def validate_display_phone_number(self, value: str) -> str:
        return e164(value, "display_phone_number") if value else value

    def validate_default_language_code(self, value: str) -> str:
        if not _LANGUAGE_TAG.match(value):
            raise serializers.ValidationError(
                "must be a BCP 47 language tag such as en_US, en-US or sv"
            )
        return value


# --- bindings --------------------------------------------------------------------------------


def _sendgrid_config(config: SendGridConfig, resolve) -> sendgrid.Config:
    return sendgrid.Config(
        api_key=resolve(config.api_key_ref),
        from_email=config.from_email,
        from_name=config.from_name,
        reply_to_email=config.reply_to_email,
        open_tracking=config.enable_open_tracking,
        click_tracking=config.enable_click_tracking,
        unsubscribe_tracking=config.enable_unsubscribe_tracking,
        ip_pool_name=config.ip_pool_name,
        sandbox_mode=config.sandbox_mode,
    )


def _mailgun_config(config: MailgunConfig, resolve) -> mailgun.Config:
    # The hub's sandbox mode is Mailgun's test mode: accepted and evented, never delivered.
    return mailgun.Config(
        api_key=resolve(config.api_key_ref),
        domain=config.domain,
        region=config.region,
        from_email=config.from_email,
        from_name=config.from_name,
        tracking=config.enable_tracking,
        click_tracking=config.enable_click_tracking,
        test_mode=config.test_mode or config.sandbox_mode,
    )


def _elks_config(config: ElksConfig, resolve) -> elks46.Config:
    # The hub's sandbox mode is a 46elks dry run: checked and priced, never sent.
    return elks46.Config(
        username=resolve(config.api_username_ref),
        password=resolve(config.api_password_ref),
        sender_id=config.sender_id,
        dry_run=config.sandbox_mode,
    )


def _twilio_config(config: TwilioConfig, resolve) -> twilio.Config:
    # Twilio has no per-request sandbox; a sandbox config uses Twilio's test credentials.
    return twilio.Config(
        account_sid=resolve(config.account_sid_ref),
        auth_token=resolve(config.auth_token_ref),
        messaging_service_sid=config.messaging_service_sid,
        from_number=config.from_number,
    )


def _fcm_config(config: FcmConfig, resolve) -> fcm.Config:
    service_account = resolve(config.service_account_json_ref)
    try:
        fcm.parse_service_account(service_account)
    except ValueError as exc:
        raise ApplicationError(
            f"service_account_json_ref: the secret {exc}",
            code="invalid_service_account",
            extra={"errors": {"service_account_json_ref": [str(exc)]}},
        ) from None
    return fcm.Config(
        service_account_json=service_account, project_id=config.project_id, app_key=str(config.pk)
    )


def _whatsapp_config(config: WhatsAppConfig, resolve) -> whatsapp.Config:
    return whatsapp.Config(
        access_token=resolve(config.access_token_ref),
        phone_number_id=config.phone_number_id,
        business_account_id=config.business_account_id,
    )


def _whatsapp_preflight(config: WhatsAppConfig, adapter_config: whatsapp.Config) -> str | None:
    if not config.business_account_id:
        return "business_account_id is required: validation reads the account's message templates"
    return None


FCM_BINDING = ProviderBinding(
    key=fcm.key,
    display_name=fcm.display_name,
    build_config=_fcm_config,
    validate=fcm.validate,
    required_refs=("service_account_json_ref",),
)
WHATSAPP_BINDING = ProviderBinding(
    key=whatsapp.key,
    display_name=whatsapp.display_name,
    build_config=_whatsapp_config,
    validate=whatsapp.validate,
    required_refs=("access_token_ref",),
    sandbox_check=_whatsapp_preflight,
    receives_webhooks=True,
)


def _binding(adapter, build_config, required_refs: tuple[str, ...]) -> ProviderBinding:
    return ProviderBinding(
        key=adapter.key,
        display_name=adapter.display_name,
        build_config=build_config,
        validate=adapter.validate,
        required_refs=required_refs,
        receives_webhooks=True,
    )


def _spec(
    url_slug: str,
    provider: str,
    label: str,
    model,
    input_serializer,
    binding: ProviderBinding | None = None,
) -> ConfigSpec:
    return ConfigSpec(
        slug=Family.COMMUNICATION.value,
        label=label,
        model=model,
        input_serializer=input_serializer,
        providers={provider: binding} if binding else {},
        provider=provider,
        url_slug=url_slug,
    )


CONFIG_SPECS: dict[str, ConfigSpec] = {
    spec.url_slug: spec
    for spec in (
        _spec(
            "sendgrid",
            sendgrid.key,
            "SendGrid",
            SendGridConfig,
            SendGridInput,
            _binding(sendgrid, _sendgrid_config, ("api_key_ref",)),
        ),
        _spec(
            "mailgun",
            mailgun.key,
            "Mailgun",
            MailgunConfig,
            MailgunInput,
            _binding(mailgun, _mailgun_config, ("api_key_ref",)),
        ),
        _spec(
            "elks",
            elks46.key,
            "46elks",
            ElksConfig,
            ElksInput,
            _binding(elks46, _elks_config, ("api_username_ref", "api_password_ref")),
        ),
        _spec(
            "twilio",
            twilio.key,
            "Twilio",
            TwilioConfig,
            TwilioInput,
            _binding(twilio, _twilio_config, ("account_sid_ref", "auth_token_ref")),
        ),
        _spec("fcm", fcm.key, "Firebase Cloud Messaging", FcmConfig, FcmInput, FCM_BINDING),
        _spec(
            "whatsapp", whatsapp.key, "WhatsApp", WhatsAppConfig, WhatsAppInput, WHATSAPP_BINDING
        ),
    )
}


def config_spec(url_slug: str) -> ConfigSpec:
    return CONFIG_SPECS[url_slug]


COMMUNICATION_FAMILY = register_app_family(
    FamilySpec(
        slug=Family.COMMUNICATION.value,
        label="Communication",
        model=Integration,
        input_serializer=ConfigInput,
        providers={
            key: binding
            for spec in CONFIG_SPECS.values()
            for key, binding in spec.providers.items()
        },
    )
)
