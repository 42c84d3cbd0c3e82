"""ICalSandbox: a web server publishing iCalendar feeds (RFC 5545), as a club's website or a
calendar service's "secret address in iCal format" does.

There is no API description to check against: feeds are plain files. Behaviour played:
- `publish(path, body, ...)` serves a feed at `path` (any status, content type and headers,
  so tests can serve HTML login pages, redirects or truncated files).
- The default feed at DEFAULT_FEED_PATH has two VEVENTs, a folded X-WR-CALNAME and CRLF lines.
- Unknown paths are a plain-text 404, as a web server answers.
Run it on its own with `python -m tests.sandboxes.ical --port N`.
"""

from __future__ import annotations

from collections.abc import Mapping

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_FEED_PATH = "/calendars/club.ics"
_DEFAULT_FEED_LINES = (
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Sandbox Club//Fixtures//EN",
    "X-WR-CALNAME:Club fixtures and",
    "  trainings",
    "BEGIN:VEVENT",
    "UID:match-1@club.example",
    "DTSTAMP:20250101T090000Z",
    "DTSTART:20250301T150000Z",
    "SUMMARY:Home match",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "UID:training-1@club.example",
    "DTSTAMP:20250101T090000Z",
    "DTSTART:20250303T170000Z",
    "SUMMARY:Training",
    "END:VEVENT",
    "END:VCALENDAR",
    "",
)
DEFAULT_FEED = "\r\n".join(_DEFAULT_FEED_LINES).encode()


class ICalSandbox(SandboxServer):
    def __init__(self, **server_options):
        super().__init__(**server_options)
        self._feeds: dict[str, Response] = {}
        self.add_route("GET", "/{first}", self._serve)
        self.add_route("GET", "/{first}/{second}", self._serve)
        self.publish(DEFAULT_FEED_PATH, DEFAULT_FEED)

    def publish(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "text/calendar; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Serve `body` at `path` (one or two segments) from now on; returns the feed's URL."""
        with self._lock:
            self._feeds[path] = (status, {"Content-Type": content_type, **(headers or {})}, body)
        return self.url + path

    def feed_url(self, path: str = DEFAULT_FEED_PATH) -> str:
        return self.url + path

    def error_response(self, status: int, message: str) -> Response:
        return status, {"Content-Type": "text/plain; charset=utf-8"}, message

    def _serve(self, request: SandboxRequest) -> Response:
        with self._lock:
            feed = self._feeds.get(request.path)
        if feed is None:
            return self.error_response(404, "Not Found")
        return feed


if __name__ == "__main__":
    run_from_command_line(ICalSandbox)
