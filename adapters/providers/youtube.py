"""YouTube Data API v3, over plain HTTPS through ProviderHttpClient.

Docs: https://developers.google.com/youtube/v3/docs/channels/list ,
errors: https://developers.google.com/youtube/v3/docs/errors ,
quota costs: https://developers.google.com/youtube/v3/determine_quota_cost ,
live streaming: https://developers.google.com/youtube/v3/live/docs/liveBroadcasts .
Google publishes a discovery document for this API but it is not vendored in
tests/sandboxes/specs, so the sandbox follows the reference pages above.
Quirks:
- `channels.list?part=id` costs one quota unit, the cheapest authenticated call there is.
  `id=<channel id>` works with an API key or an OAuth token; `mine=true` needs OAuth.
- An unknown channel id is not a 404: the answer is 200 with no `items`.
- Google reports an exhausted quota as 403 `quotaExceeded` and a bad API key as 400
  (`API key not valid`); the shared client classifies by status alone, so those surface as an
  auth failure and a rejection, with Google's reason in the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult
from adapters.vendor_errors import google_errors

key = "youtube"
display_name = "YouTube"


@dataclass(frozen=True)
class Config:
    channel_id: str = ""  # empty: the channel of the OAuth-connected account
    access_token: str = ""  # preferred over the API key when both are set
    api_key: str = ""
    base_url: str = field(
        default_factory=lambda: provider_base_url("youtube", "https://www.googleapis.com")
    )
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not (self.access_token or self.api_key):
            raise ValueError("YouTube needs an OAuth access token or an API key")
        if not (self.channel_id or self.access_token):
            raise ValueError(
                "an API key alone cannot say whose channel it is; a channel_id is needed"
            )


def list_channels(config: Config, *, part: str = "id") -> list[dict]:
    params = {"part": part}
    if config.channel_id:
        params["id"] = config.channel_id
    else:
        params["mine"] = "true"
    headers = {"Accept": "application/json"}
    if config.access_token:
        headers["Authorization"] = f"Bearer {config.access_token}"
    else:
        params["key"] = config.api_key
    with ProviderHttpClient(
        key, config.base_url, timeout=config.timeout_seconds, default_headers=headers,
        classify_error=google_errors,
    ) as client:
        response = client.request("GET", "/youtube/v3/channels", params=params)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("kind") != "youtube#channelListResponse":
        raise ProviderUnavailable(
            "YouTube answered channels.list with something other than a channel list",
            provider=key,
            code="malformed_response",
        )
    return [item for item in body.get("items") or [] if isinstance(item, dict)]


def validate(config: Config) -> ValidationResult:
    channels = list_channels(config)
    if not channels:
        which = (
            f"channel {config.channel_id}"
            if config.channel_id
            else "a channel for the connected account"
        )
        raise ProviderRejected(f"YouTube has no {which}", provider=key, code="channel_not_found")
    channel_id = str(channels[0].get("id", ""))
    return ValidationResult(
        message=f"found YouTube channel {channel_id}", details={"channel_id": channel_id}
    )
