"""MapboxSandbox: Geocoding API v6 forward geocoding.

Mapbox publishes no OpenAPI description, so requests are checked here against the documented
parameters (https://docs.mapbox.com/api/search/geocoding/#forward-geocoding-with-search-text-input):
`q` required (no ';', at most 256 characters), `access_token` required, `limit` 1-10, known
optional parameters only; a departure is recorded as a violation and fails the test. A wrong
token is 401 {"message": "Not Authorized - Invalid Token"}, as Mapbox answers.
Run it on its own with `python -m tests.sandboxes.mapbox --port N`.
"""

from __future__ import annotations

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.google_maps import deterministic_point

DEFAULT_ACCESS_TOKEN = "pk.eyJ1Ijoic2FuZGJveCJ9.sandbox-token"
_KNOWN_PARAMETERS = {
    "q",
    "access_token",
    "limit",
    "permanent",
    "autocomplete",
    "bbox",
    "country",
    "format",
    "language",
    "proximity",
    "types",
    "worldview",
}


class MapboxSandbox(SandboxServer):
    def __init__(
        self, *, access_tokens: tuple[str, ...] = (DEFAULT_ACCESS_TOKEN,), **server_options
    ):
        super().__init__(**server_options)
        self.access_tokens = set(access_tokens)
        self.add_route("GET", "/search/geocode/v6/forward", self._forward)

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"message": message}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        token = (request.query.get("access_token") or [""])[0]
        if token in self.access_tokens:
            return None
        return (
            401,
            {},
            {
                "message": "Not Authorized - No Token"
                if not token
                else "Not Authorized - Invalid Token"
            },
        )

    def _violation(self, request: SandboxRequest, message: str) -> Response:
        with self._lock:
            self._violations.append(f"{request.method} {request.path}: {message}")
        return 422, {}, {"message": message}

    def _forward(self, request: SandboxRequest) -> Response:
        unknown = sorted(set(request.query) - _KNOWN_PARAMETERS)
        if unknown:
            return self._violation(request, f"unknown parameters: {', '.join(unknown)}")
        query = (request.query.get("q") or [""])[0]
        if not query or ";" in query or len(query) > 256:
            return self._violation(request, "q must be 1-256 characters without ';'")
        limit = (request.query.get("limit") or ["5"])[0]
        if not limit.isdigit() or not 1 <= int(limit) <= 10:
            return self._violation(request, "limit must be an integer from 1 to 10")
        if query.lower().startswith("nowhere"):
            return 200, {}, {"type": "FeatureCollection", "features": [], "attribution": "© Mapbox"}
        lat, lng = deterministic_point(query)
        feature = {
            "type": "Feature",
            "id": "dXJuOm1ieGFkcjpzYW5kYm94",
            "geometry": {"type": "Point", "coordinates": [lng, lat]},
            "properties": {
                "mapbox_id": "dXJuOm1ieGFkcjpzYW5kYm94",
                "feature_type": "address",
                "full_address": query,
                "name": query.split(",")[0],
                "coordinates": {"longitude": lng, "latitude": lat},
            },
        }
        return (
            200,
            {},
            {"type": "FeatureCollection", "features": [feature], "attribution": "© Mapbox"},
        )


if __name__ == "__main__":
    run_from_command_line(MapboxSandbox)
