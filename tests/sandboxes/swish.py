"""SwishSandbox: the Swish Commerce API over HTTPS that requires a client certificate (mTLS).

Docs: https://developer.swish.nu/documentation/getting-started/swish-commerce-api. Swish
publishes no OpenAPI description. Behaviour played:
- TLS with a server certificate from the sandbox's own CA (like Swish's private root CA), and
  a client certificate required and verified against the same CA: a certificate from any
  other CA, or none, fails the handshake, as at Swish.
- The merchant is the client certificate's common name (its Swish number); a certificate for
  a merchant the sandbox does not know is 401.
- GET /swish-cpcapi/api/v1/paymentrequests/{id}: a stored payment request, or 404 with an
  empty body for an id never issued.
The CA and certificates are made with trustme. `client_certificate_pem()` issues a merchant
certificate; `ca_bundle_path(dir)` writes the CA the hub's adapter must trust.
Run it on its own with `python -m tests.sandboxes.swish --port N`.
"""

from __future__ import annotations

import re
import ssl
import threading
from pathlib import Path

import trustme

from tests.sandboxes.base import (
    Response,
    SandboxRequest,
    SandboxServer,
    _HTTPServer,
    _RequestHandler,
    run_from_command_line,
)

BASE_PATH = "/swish-cpcapi"
DEFAULT_MERCHANT = "1231181189"  # the number Swish's own test certificates carry


class _TlsRequestHandler(_RequestHandler):
    def setup(self):
        # Handshake here, in the connection's own thread, so a refused certificate ends this
        # connection only; the accept loop never blocks on a slow or failing client.
        self.request.do_handshake()
        super().setup()


class _TlsHTTPServer(_HTTPServer):
    def __init__(self, address, handler_class, sandbox: SwishSandbox):
        super().__init__(address, handler_class, sandbox)
        self.ssl_context = sandbox.server_context()

    def get_request(self):
        connection, address = super().get_request()
        return self.ssl_context.wrap_socket(
            connection, server_side=True, do_handshake_on_connect=False
        ), address

    def handle_error(self, request, client_address):
        self.sandbox.handshake_failures += (
            1  # a refused client certificate is expected, not a crash
        )


class SwishSandbox(SandboxServer):
    def __init__(
        self,
        *,
        merchants: tuple[str, ...] = (DEFAULT_MERCHANT,),
        ca: trustme.CA | None = None,
        **server_options,
    ):
        super().__init__(**server_options)
        self.ca = ca or trustme.CA()
        self.server_certificate = self.ca.issue_cert("127.0.0.1", "localhost")
        self.merchants = set(merchants)
        self.payment_requests: dict[str, dict] = {}
        self.handshake_failures = 0
        self._peer = threading.local()
        self.add_route(
            "GET", f"{BASE_PATH}/api/v1/paymentrequests/{{payment_request_id}}", self._retrieve
        )

    # TLS -------------------------------------------------------------------------------------

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.server_certificate.configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def start(self) -> SwishSandbox:
        self._http = _TlsHTTPServer((self.host, self.port), _TlsRequestHandler, self)
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"SwishSandbox:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def api_base_url(self) -> str:
        return self.url + BASE_PATH

    def client_certificate_pem(
        self, merchant: str = DEFAULT_MERCHANT, *, ca: trustme.CA | None = None
    ) -> str:
        """A merchant certificate with its private key, in one PEM, as the hub stores it."""
        leaf = (ca or self.ca).issue_cert(f"merchant-{merchant}.swish.test", common_name=merchant)
        return leaf.cert_chain_pems[0].bytes().decode() + leaf.private_key_pem.bytes().decode()

    def ca_bundle_path(self, directory: Path) -> str:
        path = Path(directory) / "swish-sandbox-ca.pem"
        self.ca.cert_pem.write_to_path(str(path))
        return str(path)

    # requests --------------------------------------------------------------------------------

    def _handle(self, http) -> None:
        certificate = http.connection.getpeercert() or {}
        subject = dict(pair for rdn in certificate.get("subject", ()) for pair in rdn)
        self._peer.merchant = subject.get("commonName", "")
        super()._handle(http)

    def error_response(self, status: int, message: str) -> Response:
        return (
            status,
            {},
            [
                {
                    "errorCode": "ACMT07" if status < 500 else "FF08",
                    "errorMessage": message,
                    "additionalInformation": None,
                }
            ],
        )

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if getattr(self._peer, "merchant", "") in self.merchants:
            return None
        return 401, {}, b""

    def _retrieve(self, request: SandboxRequest) -> Response:
        payment_request_id = request.path_params["payment_request_id"]
        if not re.fullmatch(r"[0-9A-F]{32}", payment_request_id):
            with self._lock:
                self._violations.append(
                    f"GET {request.path}: a Swish id is 32 upper-case hex digits"
                )
        found = self.payment_requests.get(payment_request_id)
        return (200, {}, found) if found else (404, {}, b"")


if __name__ == "__main__":
    run_from_command_line(SwishSandbox)
