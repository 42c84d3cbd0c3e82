"""Mapbox: the Geocoding API v6 (forward geocoding), with an access token.

Docs: https://docs.mapbox.com/api/search/geocoding/ (GET /search/geocode/v6/forward?q=…&
access_token=…, a GeoJSON FeatureCollection) and https://docs.mapbox.com/api/overview/#errors
(401 "Not Authorized - Invalid Token", 403 "Forbidden" for a token whose URL or scope
restrictions refuse the request, 422 for an invalid query, 429 "Too Many Requests").
Mapbox publishes no OpenAPI description; the sandbox plays the documented shapes.
Quirks:
- Coordinates are [longitude, latitude], the GeoJSON order.
- `permanent=false` (the default) is temporary geocoding: results may not be stored. The hub
  only looks addresses up, so it keeps the default.
- The query may not contain ';' and is limited to 256 characters and 20 words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import GeocodeResult, ValidationResult

key = "mapbox"
display_name = "Mapbox"
FORWARD_PATH = "/search/geocode/v6/forward"
VALIDATION_ADDRESS = "2 Lincoln Memorial Circle SW, Washington, DC"
MAX_QUERY_CHARACTERS = 256


@dataclass(frozen=True)
class Config:
    access_token: str = field(repr=False)  # a secret
    base_url: str = field(
        default_factory=lambda: provider_base_url("mapbox", "https://api.mapbox.com")
    )
    timeout_seconds: float = 10.0


def geocode(config: Config, address: str) -> GeocodeResult | None:
    """The best match for `address`, or None when Mapbox finds nothing."""
    query = address.replace(";", " ").strip()[:MAX_QUERY_CHARACTERS]
    if not query:
        raise ProviderRejected("the address is empty", provider=key, code="invalid_request")
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds) as client:
        response = client.request(
            "GET",
            FORWARD_PATH,
            params={"q": query, "limit": 1, "access_token": config.access_token},
        )
    try:
        body = response.json()
        features = body["features"]
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable(
            "Mapbox answered with something other than a FeatureCollection", provider=key
        ) from None
    if not features:
        return None
    best = features[0]
    longitude, latitude = best["geometry"]["coordinates"][:2]
    properties = best.get("properties", {})
    return GeocodeResult(
        formatted_address=properties.get("full_address") or properties.get("name", ""),
        latitude=float(latitude),
        longitude=float(longitude),
        provider_place_id=properties.get("mapbox_id") or best.get("id", ""),
    )


def validate(config: Config) -> ValidationResult:
    result = geocode(config, VALIDATION_ADDRESS)
    found = f"found {result.formatted_address}" if result else "no result for the test address"
    return ValidationResult(message=f"authenticated with Mapbox Geocoding ({found})")
