"""One outbound webhook POST to an address that `webhooks.ssrf` has vetted.

http.client rather than a pooled client: the connection must go to the checked address
(not to whatever a second DNS lookup returns), TLS must still verify the certificate for the
URL's host name, and redirects must never be followed, which http.client never does.
"""
from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass

from webhooks.ssrf import Target

EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class PostResult:
    status: int
    headers: dict[str, str]
    excerpt: str


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> PostResult:
    """POST `body`; raises OSError (incl. timeouts and TLS failures) or http.client.HTTPException."""
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, address=target.addresses[0], timeout=timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
        return PostResult(status=response.status, headers={k.lower(): v for k, v in response.getheaders()},
                          excerpt=excerpt)
    finally:
        connection.close()
