"""Google Maps Platform web services: the Geocoding API, with an API key.

Docs: https://developers.google.com/maps/documentation/geocoding/requests-geocoding (request,
response and status codes). The published description we build and test against is
tests/sandboxes/specs/google-maps.json (googlemaps/openapi-specification, 2023-10).
Quirks:
- Failures come back as HTTP 200 with a `status` in the body: REQUEST_DENIED (bad, restricted
  or unbilled key), OVER_QUERY_LIMIT (rate limited), OVER_DAILY_LIMIT (billing or a
  self-imposed cap), INVALID_REQUEST, UNKNOWN_ERROR (transient: "may succeed if you try
  again"). ZERO_RESULTS is a success with nothing found.
- The key travels as the `key` query parameter; ProviderHttpClient never puts query strings in
  its error messages, and this module never echoes the URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import (
    ProviderAuthFailed,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import GeocodeResult, ValidationResult

key = "google_maps"
display_name = "Google Maps"
GEOCODE_PATH = "/maps/api/geocode/json"
# A fixed, unambiguous address for the pre-flight call.
VALIDATION_ADDRESS = "1600 Amphitheatre Parkway, Mountain View, CA"


@dataclass(frozen=True)
class Config:
    api_key: str = field(repr=False)  # a secret
    base_url: str = field(
        default_factory=lambda: provider_base_url("google_maps", "https://maps.googleapis.com")
    )
    timeout_seconds: float = 10.0


def _raise_for_status(body: dict) -> None:
    status = body.get("status")
    message = f"{status}: {body.get('error_message') or 'no error message'}"
    if status in ("OK", "ZERO_RESULTS"):
        return
    if status == "REQUEST_DENIED":
        raise ProviderAuthFailed(message, provider=key, status_code=200, code=status)
    if status == "OVER_QUERY_LIMIT":
        raise ProviderRateLimited(message, provider=key, status_code=200, code=status)
    if status == "UNKNOWN_ERROR":
        raise ProviderUnavailable(message, provider=key, status_code=200, code=status)
    raise ProviderRejected(message, provider=key, status_code=200, code=str(status))


def geocode(config: Config, address: str) -> GeocodeResult | None:
    """The best match for `address`, or None when Google finds nothing."""
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds) as client:
        response = client.request(
            "GET", GEOCODE_PATH, params={"address": address, "key": config.api_key}
        )
    try:
        body = response.json()
    except ValueError:
        raise ProviderUnavailable(
            "Google answered with something other than JSON", provider=key
        ) from None
    _raise_for_status(body)
    if not body.get("results"):
        return None
    best = body["results"][0]
    location = best["geometry"]["location"]
    return GeocodeResult(
        formatted_address=best["formatted_address"],
        latitude=float(location["lat"]),
        longitude=float(location["lng"]),
        provider_place_id=best["place_id"],
    )


def validate(config: Config) -> ValidationResult:
    result = geocode(config, VALIDATION_ADDRESS)
    found = f"found {result.formatted_address}" if result else "no result for the test address"
    return ValidationResult(message=f"authenticated with Google Maps Geocoding ({found})")
