"""iCalendar feeds (RFC 5545) read over HTTP(S) through ProviderHttpClient.

Spec: https://www.rfc-editor.org/rfc/rfc5545 (3.4 iCalendar object, 3.1 content lines and
folding, 3.6.1 VEVENT). There is no provider API and no credentials: the feed URL is the whole
configuration, and the hub only ever reads it (pull).
Quirks:
- A feed URL is typed in by a tenant, so fetching it is a server-side request to an address of
  their choosing. The host must resolve to public addresses only, unless
  PROVIDER_ICAL_ALLOW_PRIVATE_HOSTS=1 (tests, or a deployment that reads an intranet feed).
  The check runs before the request; it narrows the door, but DNS could still change between
  the check and the connection.
- Redirects are not followed (the shared client's rule): a feed that moved is reported with
  its new address so the tenant can update `ical_url`.
- Servers send `text/calendar`, `text/plain` or `application/octet-stream` alike, so the body
  decides: it must begin with `BEGIN:VCALENDAR` and hold `END:VCALENDAR`. Property names are
  case-insensitive; lines may be folded (a continuation starts with a space or a tab) and may
  end in CRLF or a bare LF.
- The shared client reads the whole body, so the size limit is enforced after download.
- A private feed's path is its secret (Google's "secret address", Outlook's published
  calendar link), so a long path is redacted from logs and error texts like a credential.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from adapters.errors import ProviderError, ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient
from adapters.redaction import redact, register_secret
from adapters.types import ValidationResult

key = "ical"
display_name = "iCalendar feed"
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
SECRET_PATH_MIN_LENGTH = 24


def _private_hosts_allowed() -> bool:
    return os.environ.get("PROVIDER_ICAL_ALLOW_PRIVATE_HOSTS", "").strip() == "1"


@dataclass(frozen=True)
class Config:
    url: str
    allow_private_hosts: bool = field(default_factory=_private_hosts_allowed)
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Feed:
    name: str
    event_count: int


def _check_public_host(host: str, port: int) -> None:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError) as exc:
        raise ProviderUnavailable(
            f"the feed host {host} could not be resolved ({exc})", provider=key, code="dns_failed"
        ) from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if not ip.is_global:
            raise ProviderRejected(
                f"the feed host {host} resolves to a non-public address; the hub reads "
                "public feeds only",
                provider=key,
                code="private_address",
            )


def unfolded_lines(text: str) -> list[str]:
    """Content lines with RFC 5545 folding undone (3.1)."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines


def parse_feed(body: bytes) -> Feed:
    """Check that `body` is one VCALENDAR object and count its VEVENTs; ProviderRejected if not."""
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    lines = unfolded_lines(text)
    if not lines or lines[0].strip().upper() != "BEGIN:VCALENDAR":
        raise ProviderRejected(
            "the feed is not an iCalendar file: it does not start with BEGIN:VCALENDAR",
            provider=key,
            code="not_icalendar",
        )
    upper = [line.strip().upper() for line in lines]
    if "END:VCALENDAR" not in upper:
        raise ProviderRejected(
            "the feed is cut short: BEGIN:VCALENDAR has no END:VCALENDAR",
            provider=key,
            code="not_icalendar",
        )
    name = ""
    for line in lines:
        prop, _, value = line.partition(":")
        if prop.split(";")[0].strip().upper() == "X-WR-CALNAME":
            name = value.strip()
            break
    return Feed(name=name, event_count=upper.count("BEGIN:VEVENT"))


def fetch_feed(config: Config) -> bytes:
    parts = urlsplit(config.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderRejected(
            "the feed URL must be http:// or https:// with a host", provider=key, code="invalid_url"
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not config.allow_private_hosts:
        _check_public_host(parts.hostname, port)
    # Calendar services publish private feeds at long unguessable paths ("secret address in iCal
    # format"), so such a path is redacted like a credential. Short paths are left alone: the
    # redaction is process-wide, and "/calendar" would blank out ordinary log lines. The query
    # goes as params, which error messages never show.
    if len(parts.path) >= SECRET_PATH_MIN_LENGTH:
        register_secret(parts.path)
    with ProviderHttpClient(
        key,
        f"{parts.scheme}://{parts.netloc}",
        timeout=config.timeout_seconds,
        default_headers={"Accept": "text/calendar, text/plain;q=0.5, */*;q=0.1"},
    ) as client:
        try:
            response = client.request(
                "GET", parts.path or "/", params=parse_qsl(parts.query, keep_blank_values=True)
            )
        except ProviderError as exc:
            # The shared client names the request path in its messages; a validation run
            # stores that text, so it gets the same redaction as the logs.
            exc.message = redact(exc.message)
            exc.args = (exc.message,)
            raise
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location", "")
        raise ProviderRejected(
            f"the feed answered {response.status_code} and moved to {location or 'an unnamed place'}; "
            "set ical_url to the new address",
            provider=key,
            status_code=response.status_code,
            code="redirected",
        )
    if len(response.content) > config.max_bytes:
        raise ProviderRejected(
            f"the feed is larger than {config.max_bytes} bytes", provider=key, code="too_large"
        )
    return response.content


def validate(config: Config) -> ValidationResult:
    feed = parse_feed(fetch_feed(config))
    title = f" '{feed.name}'" if feed.name else ""
    return ValidationResult(
        message=f"read iCalendar feed{title}: {feed.event_count} event(s)",
        details={"name": feed.name, "event_count": feed.event_count},
    )
