"""A Keycloak-shaped OIDC issuer on loopback: publishes a JWKS and signs tokens with it.

The server answers `GET /realms/<realm>/protocol/openid-connect/certs` (the JWKS) and
`/realms/<realm>/.well-known/openid-configuration`, exactly the two documents a relying
party reads. Keys are RSA-2048 generated with `cryptography`; tokens are signed with
pyjwt. `rotate()` mimics Keycloak's key rotation, where the new key becomes active and
the old one either stays published for a while (`keep_old=True`) or is removed.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from jwt.algorithms import RSAAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _unpublished_key() -> rsa.RSAPrivateKey:
    """One key no issuer ever publishes; generated once because RSA key generation is slow."""
    return _new_private_key()


class OidcIssuer:
    """A running issuer. Use as a context manager, or call `close()`."""

    def __init__(self, realm: str = "test", audience: str = "integration-hub") -> None:
        self.realm = realm
        self.audience = audience
        self.jwks_fetches = 0
        self.failing_status: int | None = None  # set to e.g. 503 to play an issuer outage
        self._lock = threading.Lock()
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self.current_kid = self._add_key()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown() (one per test) from waiting the default 0.5 s.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="oidc-sandbox", daemon=True)
        self._thread.start()

    # --- addresses ------------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/realms/{self.realm}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    # --- keys -----------------------------------------------------------------------------
    def _add_key(self) -> str:
        kid = uuid.uuid4().hex
        with self._lock:
            self._keys[kid] = _new_private_key()
        return kid

    def rotate(self, *, keep_old: bool = False) -> str:
        """Make a new key (with a new kid) the signing key; drop the old ones unless kept."""
        old_kids = set(self._keys)
        new_kid = self._add_key()
        if not keep_old:
            with self._lock:
                for kid in old_kids:
                    del self._keys[kid]
        self.current_kid = new_kid
        return new_kid

    def published_kids(self) -> set[str]:
        with self._lock:
            return set(self._keys)

    def public_pem(self, kid: str | None = None) -> bytes:
        key = self._keys[kid or self.current_kid]
        return key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwks(self) -> dict:
        with self._lock:
            items = list(self._keys.items())
        keys = []
        for kid, private_key in items:
            jwk = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
            keys.append(jwk | {"kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    # --- tokens ---------------------------------------------------------------------------
    def claims(self, *, tenant: str | None, roles: list[str] | tuple[str, ...] = ("hub-admin",),
               lifetime: int = 300, **overrides) -> dict:
        """Claims of a Keycloak access token for this realm; `overrides` replace any of them."""
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.audience, "sub": str(uuid.uuid4()),
                  "iat": now, "nbf": now, "exp": now + lifetime, "azp": "hub-client",
                  "realm_access": {"roles": list(roles)}}
        if tenant is not None:
            claims["tenant_id"] = tenant
        return claims | overrides

    def sign(self, claims: dict, *, kid: str | None = None) -> str:
        """RS256 with a published key (the current one unless `kid` names another)."""
        kid = kid or self.current_kid
        return jwt.encode(claims, self._keys[kid], algorithm="RS256", headers={"kid": kid})

    @staticmethod
    def sign_with_unpublished_key(claims: dict, *, kid: str) -> str:
        """RS256 with a fresh key the JWKS never publishes: what a forger would do."""
        return jwt.encode(claims, _unpublished_key(), algorithm="RS256", headers={"kid": kid})

    def forge(self, claims: dict, *, alg: str, header_extra: dict | None = None) -> str:
        """A token built by hand, for headers pyjwt refuses to write.

        The header carries `alg` and the current kid, then `header_extra` as given (a
        missing or non-string kid, say). `RS256` signs properly with the current key;
        `HS256` uses the issuer's public key PEM as the HMAC secret (the classic
        algorithm-confusion attack); `none` carries no signature at all.
        """
        header = {"alg": alg, "typ": "JWT", "kid": self.current_kid} | (header_extra or {})
        header = {name: value for name, value in header.items() if value is not None}
        signing_input = (_b64url(json.dumps(header).encode()) + "."
                         + _b64url(json.dumps(claims).encode())).encode()
        if alg == "none":
            signature = b""
        elif alg == "HS256":
            signature = hmac.new(self.public_pem(), signing_input, hashlib.sha256).digest()
        elif alg == "RS256":
            key = self._keys[self.current_kid]
            signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise ValueError(f"forge() knows RS256, HS256 and none, not {alg}")
        return signing_input.decode() + "." + _b64url(signature)

    # --- server ---------------------------------------------------------------------------
    def _handler_class(self):
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                prefix = f"/realms/{issuer.realm}"
                if self.path == f"{prefix}/protocol/openid-connect/certs":
                    with issuer._lock:
                        issuer.jwks_fetches += 1
                    if issuer.failing_status:
                        self._send(issuer.failing_status, {"error": "unavailable"})
                    else:
                        self._send(HTTPStatus.OK, issuer.jwks())
                elif self.path == f"{prefix}/.well-known/openid-configuration":
                    self._send(HTTPStatus.OK, {"issuer": issuer.issuer, "jwks_uri": issuer.jwks_url,
                                               "id_token_signing_alg_values_supported": ["RS256"]})
                else:
                    self._send(HTTPStatus.NOT_FOUND, {"error": "not found"})

            def _send(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args) -> None:  # keep pytest output clean
                pass

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "OidcIssuer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
