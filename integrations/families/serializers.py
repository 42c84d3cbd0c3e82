"""Input and output serializers shared by every family."""
from __future__ import annotations

from rest_framework import serializers

from config.api import StrictModelSerializer
from integrations.models import Integration, QuotaPeriod

BASE_INPUT_FIELDS = ["display_name", "provider", "sandbox_mode", "capabilities", "quota_limit", "quota_period"]


def ref_fields(model) -> list[str]:
    return [f.name for f in model._meta.get_fields() if f.name.endswith("_ref")]


class CapabilitiesField(serializers.DictField):
    child = serializers.BooleanField()


class IntegrationInputSerializer(StrictModelSerializer):
    """Base of each family's input: the shared fields; families add theirs in Meta.fields."""

    capabilities = CapabilitiesField(required=False)
    quota_period = serializers.ChoiceField(choices=QuotaPeriod.choices, required=False)
    allowed_capabilities: tuple[str, ...] = ()

    class Meta:
        model = Integration
        fields = BASE_INPUT_FIELDS

    def get_fields(self):
        from integrations.secrets.fields import SecretRefField

        fields = super().get_fields()
        for name in ref_fields(self.Meta.model):
            if name in fields:
                fields[name] = SecretRefField(required=False, allow_blank=True)
        if self.instance is not None and "provider" in fields:
            fields["provider"].read_only = True
        return fields

    def validate_capabilities(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(self.allowed_capabilities))
        if unknown:
            allowed = ", ".join(self.allowed_capabilities) or "none"
            raise serializers.ValidationError(f"unknown capabilities: {', '.join(unknown)}; allowed: {allowed}")
        return value

    def validate_provider(self, value: str) -> str:
        providers = self.context["spec"].providers
        if value not in providers:
            raise serializers.ValidationError(f"must be one of: {', '.join(sorted(providers))}")
        return value


def without_nested_refs(value):
    """JSON field content with every `*_ref` key removed, at any depth (mapping `api_keys[].key_ref`,
    social `accounts[].access_token_ref`): refs are never returned, nested ones included."""
    if isinstance(value, dict):
        return {k: without_nested_refs(v) for k, v in value.items() if not str(k).endswith("_ref")}
    if isinstance(value, list):
        return [without_nested_refs(item) for item in value]
    return value


def output_serializer_for(model):
    """Render every field of a family model except credential refs, which are never returned."""
    hidden = set(ref_fields(model)) | {"integration_ptr", "tenant", "consecutive_auth_failures"}
    json_fields = [f.name for f in model._meta.concrete_fields if f.get_internal_type() == "JSONField"]

    class Output(serializers.ModelSerializer):
        credential_refs_set = serializers.SerializerMethodField()
        allowed_actions = serializers.SerializerMethodField()
        webhook_url = serializers.SerializerMethodField()

        class Meta:
            fields = ["id"] + [f.name for f in model._meta.concrete_fields
                               if f.name not in hidden and f.name != "id"] + [
                "credential_refs_set", "allowed_actions", "webhook_url"]

        def to_representation(self, instance):
            data = super().to_representation(instance)
            for name in json_fields:
                if name in data:
                    data[name] = without_nested_refs(data[name])
            return data

        def get_credential_refs_set(self, obj) -> list[str]:
            return sorted(name for name in ref_fields(model) if getattr(obj, name, ""))

        def get_allowed_actions(self, obj) -> list[str]:
            from integrations.lifecycle import Status, allowed_actions

            return allowed_actions(Status(obj.status))

        def get_webhook_url(self, obj) -> str | None:
            from integrations.selectors.integrations import integration_webhook_url

            return integration_webhook_url(integration=obj)

    Output.Meta.model = model
    Output.__name__ = f"{model.__name__}Output"
    return Output
