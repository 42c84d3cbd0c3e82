"""GoogleMapsSandbox: the Geocoding API, checked against specs/google-maps.json.

Docs: https://developers.google.com/maps/documentation/geocoding/requests-geocoding. Behaviour
played: the key is the `key` query parameter; a wrong one is HTTP 200 with status
REQUEST_DENIED and Google's error_message, as Google answers. Every address geocodes to a
deterministic point, except addresses starting "nowhere", which are ZERO_RESULTS.
Run it on its own with `python -m tests.sandboxes.google_maps --port N`.
"""

from __future__ import annotations

import functools
import hashlib
import json

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import SPECS_DIR, SpecValidator, SpecViolation

DEFAULT_API_KEY = "AIzaSandboxKey0123456789abcdefghijklmno"


@functools.cache
def google_maps_validator() -> SpecValidator:
    """The description names www.googleapis.com as its server but each web-service operation
    overrides it with maps.googleapis.com; requests are presented on the operation's host."""
    spec = json.loads((SPECS_DIR / "google-maps.json").read_text(encoding="utf-8"))
    spec["servers"] = [{"url": "https://maps.googleapis.com"}]
    return SpecValidator(spec)


def deterministic_point(text: str) -> tuple[float, float]:
    digest = hashlib.sha256(text.encode()).digest()
    return (round(-80 + digest[0] * 160 / 255, 6), round(-170 + digest[1] * 340 / 255, 6))


class GoogleMapsSandbox(SandboxServer):
    def __init__(self, *, api_keys: tuple[str, ...] = (DEFAULT_API_KEY,), **server_options):
        super().__init__(validator=google_maps_validator(), **server_options)
        self.api_keys = set(api_keys)
        self.add_route("GET", "/maps/api/geocode/json", self._geocode)

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"status": "UNKNOWN_ERROR", "error_message": message, "results": []}

    def violations_response(self, violations: list[SpecViolation]) -> Response:
        return (
            200,
            {},
            {
                "status": "INVALID_REQUEST",
                "results": [],
                "error_message": "; ".join(str(violation) for violation in violations),
            },
        )

    def authenticate(self, request: SandboxRequest) -> Response | None:
        key = (request.query.get("key") or [""])[0]
        if key in self.api_keys:
            return None
        message = (
            "You must use an API key to authenticate each request to Google Maps Platform APIs."
            if not key
            else "The provided API key is invalid. "
        )
        return 200, {}, {"status": "REQUEST_DENIED", "error_message": message, "results": []}

    def _geocode(self, request: SandboxRequest) -> Response:
        address = (request.query.get("address") or [""])[0]
        if not address:
            return (
                200,
                {},
                {
                    "status": "INVALID_REQUEST",
                    "results": [],
                    "error_message": (
                        "Invalid request. Missing the 'address', 'components', 'latlng' "
                        "or 'place_id' parameter."
                    ),
                },
            )
        if address.lower().startswith("nowhere"):
            return 200, {}, {"status": "ZERO_RESULTS", "results": []}
        lat, lng = deterministic_point(address)
        result = {
            "address_components": [
                {"long_name": address, "short_name": address, "types": ["route"]}
            ],
            "formatted_address": address,
            "geometry": {
                "location": {"lat": lat, "lng": lng},
                "location_type": "ROOFTOP",
                "viewport": {
                    "northeast": {"lat": lat + 0.001, "lng": lng + 0.001},
                    "southwest": {"lat": lat - 0.001, "lng": lng - 0.001},
                },
            },
            "place_id": "ChIJ" + hashlib.sha256(address.encode()).hexdigest()[:23],
            "types": ["street_address"],
        }
        return 200, {}, {"status": "OK", "results": [result]}


if __name__ == "__main__":
    run_from_command_line(GoogleMapsSandbox)
