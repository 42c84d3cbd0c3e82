"""What the families whose providers implement a hub interface share (WADA ADAMS, insurance,
government registries): the endpoint URL rule and list-of-codes fields."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from rest_framework import serializers

from integrations.errors import ApplicationError

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def http_localhost_allowed() -> bool:
    return bool(settings.DEBUG or settings.PROVIDER_INTERFACE_ALLOW_HTTP_LOCALHOST)


def api_base_url_problem(url: str) -> str | None:
    """Why `url` may not be a provider endpoint, or None. https only; plain http only to this
    machine and only in development (DEBUG or PROVIDER_INTERFACE_ALLOW_HTTP_LOCALHOST)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "must be a valid URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username or parts.password:
        return "must not carry credentials; use the *_ref fields"
    if parts.query or parts.fragment:
        return "must not have a query string or fragment"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS and http_localhost_allowed():
        return None
    return "must use https (plain http is allowed only to localhost in development)"


class ApiBaseUrlField(serializers.URLField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 500)
        kwargs.setdefault(
            "help_text", "The provider's endpoint implementing the hub interface (https)."
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value and (problem := api_base_url_problem(value)):
            raise serializers.ValidationError(problem)
        return value.rstrip("/")


def endpoint_url(integration) -> str:
    """The configured endpoint, checked again at call time: settings may have changed since."""
    if not integration.api_base_url:
        raise ApplicationError("api_base_url is not set", code="incomplete")
    if problem := api_base_url_problem(integration.api_base_url):
        raise ApplicationError(f"api_base_url {problem}", code="invalid")
    return integration.api_base_url


def code_list_field(
    *, max_items: int = 100, max_length: int = 50, help_text: str = ""
) -> serializers.ListField:
    """A list of identifiers (sport codes, pool ids): non-blank strings, duplicates dropped."""
    return serializers.ListField(
        child=serializers.CharField(max_length=max_length, allow_blank=False),
        max_length=max_items,
        required=False,
        help_text=help_text,
    )


def unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(value.strip() for value in values))
