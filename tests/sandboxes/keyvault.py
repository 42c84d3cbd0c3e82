"""An Azure Key Vault on loopback, spoken to by the real azure-keyvault-secrets client.

HTTPS with a certificate for 127.0.0.1 issued by a throwaway CA (`trustme`); callers trust
`ca_file`. It plays the parts of the service the hub uses:

- Key Vault's challenge protocol: a request without the expected bearer token answers 401
  with `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
  resource="https://vault.azure.net"`; the SDK then asks its credential for a token for
  `https://vault.azure.net/.default` and sends the request again.
  https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses
- `GET /secrets/{name}/{version}?api-version=...` and the versionless
  `GET /secrets/{name}/?api-version=...` answer a SecretBundle
  (`{"value", "id": "https://<host>/secrets/<name>/<version>", "attributes"}`), or 404 with
  `{"error": {"code": "SecretNotFound", ...}}`.

Every request is recorded in `requests` so tests can assert what the SDK sent.
"""
from __future__ import annotations

import json
import re
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import trustme
from azure.core.credentials import AccessToken, TokenCredential

KEYVAULT_RESOURCE = "https://vault.azure.net"
_SECRET_PATH = re.compile(r"^/secrets/(?P<name>[A-Za-z0-9-]{1,127})(?:/(?P<version>[0-9a-fA-F]{32})?)?$")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None


class SandboxCredential(TokenCredential):
    """A TokenCredential that hands out the sandbox's token and records what was asked for."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[dict] = []

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs) -> AccessToken:
        self.calls.append({"scopes": scopes, "tenant_id": tenant_id})
        return AccessToken(self.token, int(time.time()) + 3600)


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, ssl_context: ssl.SSLContext) -> None:
        super().__init__(address, handler)
        self.ssl_context = ssl_context

    def finish_request(self, request, client_address) -> None:
        # The TLS handshake runs in the request's own thread, so a slow client cannot stall
        # the accept loop.
        self.RequestHandlerClass(self.ssl_context.wrap_socket(request, server_side=True), client_address, self)

    def handle_error(self, request, client_address) -> None:
        pass  # clients that give up mid-handshake are expected in outage tests


class KeyVaultSandbox:
    """A running vault. Use as a context manager, or call `close()`."""

    def __init__(self, *, directory_tenant: str | None = None) -> None:
        self.directory_tenant = directory_tenant or str(uuid.uuid4())
        self.token = f"sandbox-token-{uuid.uuid4().hex}"
        # What the hub is given to authenticate; it records each token request it serves.
        self.credential = SandboxCredential(self.token)
        self.requests: list[RecordedRequest] = []
        self._secrets: dict[str, list[tuple[str, str, int]]] = {}  # name -> [(version, value, created)]
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="kv-sandbox-")
        ca = trustme.CA()
        self.ca_file = str(Path(self._tmp.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self._server = _TlsServer(("127.0.0.1", 0), self._handler_class(), context)
        self._thread = threading.Thread(target=self._server.serve_forever, name="keyvault-sandbox", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def set_secret(self, name: str, value: str) -> str:
        """Add a new current version of `name` and return its version id."""
        version = uuid.uuid4().hex
        with self._lock:
            self._secrets.setdefault(name, []).append((version, value, int(time.time())))
        return version

    def stop(self) -> None:
        """Stop answering (connections are refused from now on); `ca_file` stays readable."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> "KeyVaultSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the service --------------------------------------------------------------------
    def _lookup(self, name: str, version: str | None) -> tuple[str, str, int] | None:
        with self._lock:
            versions = self._secrets.get(name, [])
            if version is None:
                return versions[-1] if versions else None
            return next((v for v in versions if v[0].lower() == version.lower()), None)

    def _handler_class(self):
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args) -> None:
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                authorization = self.headers.get("Authorization")
                sandbox.requests.append(RecordedRequest("GET", parts.path, query, authorization))
                if authorization != f"Bearer {sandbox.token}":
                    challenge = (f'Bearer authorization="https://login.microsoftonline.com/'
                                 f'{sandbox.directory_tenant}", resource="{KEYVAULT_RESOURCE}"')
                    self._send(401, {"error": {"code": "Unauthorized",
                                               "message": "AKV10000: Request is missing a Bearer or PoP token."}},
                               {"WWW-Authenticate": challenge})
                    return
                if not query.get("api-version"):
                    self._send(400, {"error": {"code": "BadParameter",
                                               "message": "The request URI must contain an api-version."}})
                    return
                match = _SECRET_PATH.match(parts.path)
                if match is None:
                    self._send(404, {"error": {"code": "NotFound", "message": "No such operation."}})
                    return
                name, version = match["name"], match["version"]
                found = sandbox._lookup(name, version)
                if found is None:
                    self._send(404, {"error": {"code": "SecretNotFound", "message":
                                               f"A secret with (name/id) {name} was not found in this key vault."}})
                    return
                found_version, value, created = found
                host = self.headers.get("Host") or f"127.0.0.1:{sandbox.port}"
                self._send(200, {
                    "value": value,
                    "id": f"https://{host}/secrets/{name}/{found_version}",
                    "attributes": {"enabled": True, "created": created, "updated": created,
                                   "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
                    "tags": {},
                })

        return Handler
