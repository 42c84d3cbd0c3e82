"""Streaming: YouTube Live and Twitch channels (OAuth), and Mux Video (access token id/secret).

Validation: YouTube `channels.list?part=id` on `channel_id` (an API key or the OAuth token),
Twitch `GET /helix/users` (Client-Id plus the OAuth token), Mux `GET /video/v1/live-streams?limit=1`
with HTTP Basic (`api_key_ref` is the access token id, `api_secret_ref` its secret).
`rtmp_url` is where the hub's encoder pushes to: rtmp:// or rtmps:// with a host; the stream key
never goes in it, it lives behind `stream_key_ref`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from rest_framework import serializers

from adapters.providers import mux, twitch, youtube
from integrations.errors import ApplicationError
from integrations.families.registry import FamilySpec, ProviderBinding, register
from integrations.families.serializers import BASE_INPUT_FIELDS, IntegrationInputSerializer
from integrations.models import StreamingIntegration

OAUTH_FIELDS = ("oauth_client_id", "oauth_client_secret_ref", "oauth_refresh_token_ref")
# https://developers.google.com/youtube/v3/docs/channels#id : "UC" and 22 base64url characters.
_YOUTUBE_CHANNEL_ID = re.compile(r"UC[A-Za-z0-9_-]{22}")
_TWITCH_USER_ID = re.compile(r"[0-9]{1,20}")
# A DNS name, an IPv4 address or an IPv6 address (urlsplit has already removed the brackets).
_HOST = re.compile(r"[A-Za-z0-9.-]+|[0-9A-Fa-f:.]+")


class StreamingInput(IntegrationInputSerializer):
    rtmp_url = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="rtmp:// or rtmps:// ingest URL, without the stream key.",
    )

    class Meta:
        model = StreamingIntegration
        fields = BASE_INPUT_FIELDS + [
            *OAUTH_FIELDS,
            "api_key_ref",
            "api_secret_ref",
            "stream_key_ref",
            "webhook_signing_key_ref",
            "channel_id",
            "rtmp_url",
            "dvr_enabled",
            "chat_enabled",
            "auto_record",
        ]

    def validate_rtmp_url(self, value: str) -> str:
        if not value:
            return value
        try:
            parts = urlsplit(value)
            port = parts.port  # raises ValueError on a port that is not a number in 0-65535
        except ValueError:
            raise serializers.ValidationError("is not a valid URL") from None
        if port == 0:
            raise serializers.ValidationError("must name a port between 1 and 65535")
        if parts.scheme.lower() not in ("rtmp", "rtmps"):
            raise serializers.ValidationError("must be an rtmp:// or rtmps:// URL")
        if not parts.hostname or not _HOST.fullmatch(parts.hostname):
            raise serializers.ValidationError(
                "must name a host, as in rtmps://live.example.com:443/app"
            )
        if parts.username or parts.password:
            raise serializers.ValidationError(
                "must not carry credentials; put the stream key in stream_key_ref"
            )
        if any(ch.isspace() for ch in value):
            raise serializers.ValidationError("must not contain spaces")
        return value

    def validate(self, attrs):
        def current(name: str, default=""):
            return attrs.get(name, getattr(self.instance, name, default))

        provider = current("provider")
        channel_id = current("channel_id")
        errors: dict[str, list[str]] = {}
        if (
            provider == StreamingIntegration.Provider.YOUTUBE
            and channel_id
            and not _YOUTUBE_CHANNEL_ID.fullmatch(channel_id)
        ):
            errors["channel_id"] = [
                "a YouTube channel id is 'UC' and 22 more characters (not the @handle)"
            ]
        if (
            provider == StreamingIntegration.Provider.TWITCH
            and channel_id
            and not _TWITCH_USER_ID.fullmatch(channel_id)
        ):
            errors["channel_id"] = [
                "a Twitch channel id is the broadcaster's numeric user id (not the login name)"
            ]
        if provider != StreamingIntegration.Provider.MUX and current("api_secret_ref"):
            errors["api_secret_ref"] = ["only used by mux (the access token secret)"]
        if provider != StreamingIntegration.Provider.MUX and current("webhook_signing_key_ref"):
            errors["webhook_signing_key_ref"] = ["only used by mux (its webhook signing secret)"]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def _oauth_access_token(integration: StreamingIntegration) -> str:
    # Imported at call time: the OAuth token service sits above the families it serves.
    from integrations.oauth.tokens import oauth_access_token

    return oauth_access_token(integration=integration)


def _youtube_config(integration: StreamingIntegration, resolve) -> youtube.Config:
    if integration.oauth_client_id:
        return youtube.Config(
            channel_id=integration.channel_id, access_token=_oauth_access_token(integration)
        )
    if not integration.api_key_ref:
        raise ApplicationError(
            "missing credential: connect the YouTube channel with OAuth (oauth_client_id), or "
            "set api_key_ref",
            code="incomplete",
        )
    if not integration.channel_id:
        raise ApplicationError(
            "an API key alone cannot tell whose channel it is: set channel_id", code="incomplete"
        )
    return youtube.Config(
        channel_id=integration.channel_id, api_key=resolve(integration.api_key_ref)
    )


def _twitch_config(integration: StreamingIntegration, resolve) -> twitch.Config:
    if not integration.oauth_client_id:
        raise ApplicationError(
            "missing credential: Twitch needs the app's oauth_client_id (sent as Client-Id) "
            "and a connected account",
            code="incomplete",
        )
    return twitch.Config(
        client_id=integration.oauth_client_id,
        access_token=_oauth_access_token(integration),
        channel_id=integration.channel_id,
    )


def _mux_config(integration: StreamingIntegration, resolve) -> mux.Config:
    return mux.Config(
        token_id=resolve(integration.api_key_ref), token_secret=resolve(integration.api_secret_ref)
    )


SPEC = register(
    FamilySpec(
        slug="streaming",
        label="Streaming",
        model=StreamingIntegration,
        input_serializer=StreamingInput,
        providers={
            "youtube": ProviderBinding(
                key="youtube",
                display_name=youtube.display_name,
                build_config=_youtube_config,
                validate=youtube.validate,
                oauth=True,
            ),
            "twitch": ProviderBinding(
                key="twitch",
                display_name=twitch.display_name,
                build_config=_twitch_config,
                validate=twitch.validate,
                oauth=True,
            ),
            "mux": ProviderBinding(
                key="mux",
                display_name=mux.display_name,
                build_config=_mux_config,
                validate=mux.validate,
                required_refs=("api_key_ref", "api_secret_ref"),
                receives_webhooks=True,
            ),
        },
    )
)
