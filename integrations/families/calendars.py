"""Calendars: Google Calendar and Outlook (Microsoft Graph) through OAuth, and read-only
iCalendar feeds.

Google and Outlook are validated by listing one event of `calendar_id` (Google also tells
whether the connected account may write to it, which push and bidirectional sync need); an
iCalendar feed is validated by fetching `ical_url` and checking that it is a VCALENDAR.
The sync state (`last_synced_at`, `sync_cursor`, `last_sync_error`) is written by the sync
itself and is read-only here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from rest_framework import serializers

from adapters.providers import google_calendar, ical, outlook
from integrations.errors import ApplicationError
from integrations.families.registry import FamilySpec, ProviderBinding, register
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from integrations.models import CalendarIntegration, SyncDirection

OAUTH_FIELDS = ("oauth_client_id", "oauth_client_secret_ref", "oauth_refresh_token_ref")
_GOOGLE_CALENDAR_ID = re.compile(r"\S{1,300}")
_http_url = URLValidator(schemes=["http", "https"])


class CalendarInput(IntegrationInputSerializer):
    ical_url = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        help_text="An http:// or https:// iCalendar feed (provider ical only).",
    )
    event_type_filters = serializers.ListField(
        child=serializers.CharField(max_length=64),
        max_length=50,
        required=False,
        help_text="Only events of these types are synced; empty means all.",
    )

    class Meta:
        model = CalendarIntegration
        fields = BASE_INPUT_FIELDS + [
            *OAUTH_FIELDS,
            "api_key_ref",
            "calendar_id",
            "ical_url",
            "sync_direction",
            "event_type_filters",
        ]

    def validate_ical_url(self, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https"):
            raise serializers.ValidationError(
                "must be an http:// or https:// URL (webcal:// feeds are read over https://)"
            )
        if parts.username or parts.password:
            raise serializers.ValidationError(
                "must not carry credentials; the hub reads public feeds only"
            )
        try:
            _http_url(value)
        except DjangoValidationError:
            raise serializers.ValidationError("is not a valid URL with a host") from None
        return value

    def validate_event_type_filters(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate(self, attrs):
        def current(name: str, default=""):
            return attrs.get(name, getattr(self.instance, name, default))

        provider = current("provider")
        errors: dict[str, list[str]] = {}
        if provider == CalendarIntegration.Provider.ICAL:
            if not current("ical_url"):
                errors["ical_url"] = ["required for an iCalendar feed"]
            if current("calendar_id"):
                errors["calendar_id"] = ["not used by ical: the feed is ical_url"]
            if current("sync_direction", SyncDirection.PULL) != SyncDirection.PULL:
                errors["sync_direction"] = [
                    "an iCalendar feed is read-only: ical supports pull only"
                ]
            for name in (*OAUTH_FIELDS, "api_key_ref"):
                if current(name):
                    errors[name] = ["not used by ical: feeds are read without credentials"]
        else:
            calendar_id = current("calendar_id")
            if not calendar_id:
                errors["calendar_id"] = [f"required for {provider}"]
            elif provider == CalendarIntegration.Provider.OUTLOOK:
                try:
                    outlook.parse_calendar_id(calendar_id)
                except ValueError as exc:
                    errors["calendar_id"] = [str(exc)]
            elif not _GOOGLE_CALENDAR_ID.fullmatch(calendar_id):
                errors["calendar_id"] = [
                    (
                        "a Google calendar id has no spaces ('primary' or an address like "
                        "team@group.calendar.google.com)"
                    )
                ]
            if current("ical_url"):
                errors["ical_url"] = ["only used by the ical provider"]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def _oauth_access_token(integration: CalendarIntegration) -> str:
    # Imported at call time: the OAuth token service sits above the families it serves.
    from integrations.oauth.tokens import oauth_access_token

    return oauth_access_token(integration=integration)


def _google_config(integration: CalendarIntegration, resolve) -> google_calendar.Config:
    needs_write = integration.sync_direction != SyncDirection.PULL
    if integration.oauth_client_id:
        return google_calendar.Config(
            calendar_id=integration.calendar_id,
            needs_write=needs_write,
            access_token=_oauth_access_token(integration),
        )
    if integration.api_key_ref:
        return google_calendar.Config(
            calendar_id=integration.calendar_id,
            needs_write=needs_write,
            api_key=resolve(integration.api_key_ref),
        )
    raise ApplicationError(
        "missing credential: connect a Google account with OAuth (oauth_client_id), or set "
        "api_key_ref to read a public calendar",
        code="incomplete",
    )


def _outlook_config(integration: CalendarIntegration, resolve) -> outlook.Config:
    if not integration.oauth_client_id:
        raise ApplicationError(
            "missing credential: Outlook calendars are reached through a Microsoft account "
            "connected with OAuth (oauth_client_id)",
            code="incomplete",
        )
    return outlook.Config(
        calendar_id=integration.calendar_id, access_token=_oauth_access_token(integration)
    )


def _ical_config(integration: CalendarIntegration, resolve) -> ical.Config:
    return ical.Config(url=integration.ical_url)


SPEC = register(
    FamilySpec(
        slug="calendars",
        label="Calendar",
        model=CalendarIntegration,
        input_serializer=CalendarInput,
        providers={
            "google": ProviderBinding(
                key="google",
                display_name=google_calendar.display_name,
                build_config=_google_config,
                validate=google_calendar.validate,
                oauth=True,
            ),
            "outlook": ProviderBinding(
                key="outlook",
                display_name=outlook.display_name,
                build_config=_outlook_config,
                validate=outlook.validate,
                oauth=True,
            ),
            "ical": ProviderBinding(
                key="ical",
                display_name=ical.display_name,
                build_config=_ical_config,
                validate=ical.validate,
            ),
        },
    )
)
