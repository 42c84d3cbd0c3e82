"""Where the hub may send outbound webhooks: never into its own network.

A tenant-chosen URL is resolved and every address it resolves to must be public. Private,
loopback, link-local, multicast, reserved, unspecified and shared (CGNAT) ranges are refused,
and so are IPv4 addresses hidden inside IPv6 (mapped, 6to4, Teredo). Cloud metadata services
are refused always, even when settings.WEBHOOK_ALLOW_PRIVATE_TARGETS lets tests and on-premise
deployments reach private addresses. The check runs when an endpoint is saved and again before
every send (DNS can change), and the send connects to the address that was checked, so a
second resolution cannot swap in another one.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from integrations.errors import ApplicationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# AWS/GCP/Azure/OpenStack IMDS, AWS IMDS over IPv6, ECS task metadata, Alibaba Cloud.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(address) for address in (
    "169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200"))


class TargetRefused(ApplicationError):
    status = 400
    code = "webhook_target_refused"
    title = "Webhook target refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, extra={"errors": {"url": [detail]}})


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]  # checked addresses, in resolver order


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.sixtofour:
            return address.sixtofour
        if address.teredo:
            return address.teredo[1]
    return None


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why the hub must not connect to `address`, or None when it may."""
    candidates = [address] + [embedded for embedded in [_embedded_ipv4(address)] if embedded]
    for candidate in candidates:
        if candidate in METADATA_ADDRESSES:
            return "a cloud metadata address"
        if not allow_private and not candidate.is_global:
            return "a private, loopback, link-local or reserved address"
        if candidate.is_multicast or candidate.is_unspecified:
            return "a multicast or unspecified address"
    return None


def target_check(url: str) -> Target:
    """Parse, resolve and vet `url`; raises TargetRefused naming the problem."""
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_TARGETS
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not allow_private):
        raise TargetRefused("the URL must use https")
    if parts.username or parts.password:
        raise TargetRefused("the URL must not carry credentials")
    host = parts.hostname
    if not host:
        raise TargetRefused("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("the URL has an invalid port") from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise TargetRefused(f"the host '{host}' does not resolve") from None
    addresses: list[str] = []
    for _family, _type, _proto, _canonical, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise TargetRefused(f"the host '{host}' resolves to something that is not an address") from None
        refusal = address_refusal(address, allow_private=allow_private)
        if refusal:
            raise TargetRefused(f"the host '{host}' resolves to {refusal}")
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise TargetRefused(f"the host '{host}' does not resolve")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path, addresses=tuple(addresses))
