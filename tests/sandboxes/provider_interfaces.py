"""ProviderInterfaceSandbox: an outside provider implementing one of the hub's own interfaces.

The interfaces are docs/provider-interfaces/{wada-adams,insurance,gov-registries}.openapi.json;
every request is checked against the family's document (a violation fails the test), then
authenticated the way a conforming provider must: `Authorization: Bearer <api key>`, and for
signed interfaces `X-Hub-Timestamp` within five minutes plus `X-Hub-Signature` (HMAC-SHA256
with the signing key for WADA ADAMS; RSA or ECDSA with the registered certificate, named by
`X-Hub-Certificate-SHA256`, for registries). Refusals are RFC 9457 problem documents.

Run one on its own: `python -m tests.sandboxes.provider_interfaces --port N` (WADA ADAMS).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from functools import partial
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import SpecValidator, SpecViolation

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs" / "provider-interfaces"
DEFAULT_API_KEY = "hub-interface-sandbox-key-0123456789"
DEFAULT_SIGNING_KEY = "hub-interface-sandbox-signing-key-0123456789"
TIMESTAMP_TOLERANCE_SECONDS = 300

# What each family's /v1/status says by default, and how its requests are signed.
FAMILIES = {
    "wada-adams": {
        "signing": "hmac",
        "status": {
            "organization_code": "SWE-NADO",
            "organization_name": "Swedish Anti-Doping",
            "interface_version": "1.0.0",
        },
    },
    "insurance": {
        "signing": None,
        "status": {
            "broker_id": "BRK-1001",
            "broker_name": "Sports Cover AB",
            "coverage_types": ["accident", "liability", "travel", "equipment"],
        },
    },
    "gov-registries": {
        "signing": "certificate",
        "status": {
            "federation_code": "SBF",
            "country_code": "SE",
            "federation_name": "Swedish Badminton Federation",
        },
    },
}

_validators: dict[str, SpecValidator] = {}
_validators_lock = threading.Lock()


def interface_validator(family: str) -> SpecValidator:
    with _validators_lock:
        if family not in _validators:
            spec = json.loads((DOCS_DIR / f"{family}.openapi.json").read_text(encoding="utf-8"))
            _validators[family] = SpecValidator(spec, reject_unknown_query_params=True)
        return _validators[family]


def _problem(status: int, title: str, detail: str, **extra) -> Response:
    return (
        status,
        {"Content-Type": "application/problem+json"},
        {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra},
    )


class ProviderInterfaceSandbox(SandboxServer):
    def __init__(
        self,
        *,
        family: str = "wada-adams",
        api_key: str = DEFAULT_API_KEY,
        signing_key: str = DEFAULT_SIGNING_KEY,
        certificates: list[x509.Certificate] = (),
        environment: str = "sandbox",
        status: dict | None = None,
        **server_options,
    ):
        super().__init__(validator=interface_validator(family), **server_options)
        self.family = family
        self.api_key = api_key
        self.signing_key = signing_key
        self.signing = FAMILIES[family]["signing"]
        self.certificates = {cert.fingerprint(hashes.SHA256()).hex(): cert for cert in certificates}
        self.status = {**FAMILIES[family]["status"], "environment": environment, **(status or {})}
        self.received: dict[str, list[dict]] = {}
        self.add_route("GET", "/v1/status", lambda request: (200, {}, self.status))
        for method, path, handler in self._family_routes():
            self.add_route(method, path, handler)

    def _family_routes(self):
        accept = partial(self._accept, status=202)
        create = partial(self._accept, status=201)
        if self.family == "wada-adams":
            return [
                ("POST", "/v1/whereabouts", accept),
                ("GET", "/v1/tues", self._list_tues),
                ("GET", "/v1/test-results", self._list_test_results),
            ]
        if self.family == "insurance":
            return [
                ("POST", "/v1/enrollments", self._enroll),
                ("POST", "/v1/claims", self._claim),
                ("POST", "/v1/premium-quotes", self._quote),
                ("POST", "/v1/certificates", self._certificate),
            ]
        return [
            ("POST", "/v1/membership-reports", accept),
            ("POST", "/v1/grant-applications", create),
            ("POST", "/v1/facility-registrations", create),
            ("POST", "/v1/event-reports", accept),
            ("GET", "/v1/compliance", self._compliance),
        ]

    # provider behaviour ------------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        return _problem(
            status,
            {503: "Service Unavailable", 429: "Too Many Requests"}.get(status, "Error"),
            message,
        )

    def violations_response(self, violations: list[SpecViolation]) -> Response:
        errors: dict[str, list[str]] = {}
        for violation in violations:
            errors.setdefault(violation.param or "body", []).append(violation.message)
        return _problem(
            400, "Bad Request", "The request does not match the interface.", errors=errors
        )

    def authenticate(self, request: SandboxRequest) -> Response | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(token.encode(), self.api_key.encode()):
            return _problem(401, "Unauthorized", "The API key is not valid.")
        if self.signing is None:
            return None
        timestamp = request.headers.get("x-hub-timestamp", "")
        if (
            not timestamp.isdigit()
            or abs(time.time() - int(timestamp)) > TIMESTAMP_TOLERANCE_SECONDS
        ):
            return _problem(
                401,
                "Unauthorized",
                "X-Hub-Timestamp is missing or too far from the provider's clock.",
            )
        message = f"{timestamp}.".encode() + request.body
        signature = request.headers.get("x-hub-signature", "")
        verified = (
            self._verify_hmac(message, signature)
            if self.signing == "hmac"
            else self._verify_certificate(
                message, signature, request.headers.get("x-hub-certificate-sha256", "")
            )
        )
        return (
            None if verified else _problem(401, "Unauthorized", "X-Hub-Signature does not verify.")
        )

    def _verify_hmac(self, message: bytes, signature: str) -> bool:
        expected = (
            "sha256=" + hmac.new(self.signing_key.encode(), message, hashlib.sha256).hexdigest()
        )
        return hmac.compare_digest(signature.encode(), expected.encode())

    def _verify_certificate(self, message: bytes, signature: str, fingerprint: str) -> bool:
        certificate = self.certificates.get(fingerprint)
        scheme, _, encoded = signature.partition("=")
        if certificate is None or not encoded:
            return False
        try:
            raw = base64.b64decode(encoded, validate=True)
            public_key = certificate.public_key()
            if scheme == "rsa-sha256" and isinstance(public_key, rsa.RSAPublicKey):
                public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
            elif scheme == "ecdsa-sha256" and isinstance(public_key, ec.EllipticCurvePublicKey):
                public_key.verify(raw, message, ec.ECDSA(hashes.SHA256()))
            else:
                return False
        except (InvalidSignature, ValueError):
            return False
        return True

    def _record(self, request: SandboxRequest) -> dict:
        body = request.parsed_body if request.body else {}
        with self._lock:
            self.received.setdefault(request.path, []).append(body)
        return body

    def _accept(self, request: SandboxRequest, *, status: int) -> Response:
        self._record(request)
        return (
            status,
            {},
            {
                "id": f"sbx_{secrets.token_hex(8)}",
                "status": "received",
                "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )

    def _list_tues(self, request: SandboxRequest) -> Response:
        self._record(request)
        pool = request.query["athlete_pool_id"][0]
        return (
            200,
            {},
            {
                "items": [
                    {
                        "tue_id": "TUE-1",
                        "athlete_id": f"{pool}-A1",
                        "substance": "salbutamol",
                        "status": "approved",
                        "valid_from": "2026-01-01",
                        "valid_until": "2026-12-31",
                    }
                ]
            },
        )

    def _list_test_results(self, request: SandboxRequest) -> Response:
        self._record(request)
        pool = request.query["athlete_pool_id"][0]
        return (
            200,
            {},
            {
                "items": [
                    {
                        "test_id": "T-77",
                        "athlete_id": f"{pool}-A1",
                        "sample_type": "urine",
                        "collected_at": "2026-03-01T08:00:00Z",
                        "reported_at": "2026-03-09T12:00:00Z",
                        "result": "negative",
                    }
                ]
            },
        )

    def _enroll(self, request: SandboxRequest) -> Response:
        body = self._record(request)
        return (
            201,
            {},
            {
                "enrollment_id": f"ENR-{body['member']['member_id']}",
                "status": "active",
                "policy_number": f"POL-{body['policy_group_id']}",
            },
        )

    def _claim(self, request: SandboxRequest) -> Response:
        body = self._record(request)
        if body["coverage_type"] not in self.status["coverage_types"]:
            return _problem(
                422,
                "Unprocessable Content",
                f"coverage '{body['coverage_type']}' is not in the policy",
            )
        return 201, {}, {"claim_id": f"CLM-{secrets.token_hex(4)}", "status": "received"}

    def _quote(self, request: SandboxRequest) -> Response:
        body = self._record(request)
        premium = 120 * body["member_count"] * len(body["coverage_types"])
        return (
            200,
            {},
            {
                "quote_id": f"Q-{secrets.token_hex(4)}",
                "valid_until": "2026-12-31",
                "premium": {"value": f"{premium}.00", "currency": "SEK"},
            },
        )

    def _certificate(self, request: SandboxRequest) -> Response:
        body = self._record(request)
        certificate_id = f"CERT-{body['member_id']}"
        return (
            201,
            {},
            {
                "certificate_id": certificate_id,
                "valid_until": "2026-12-31",
                "document_url": f"https://insurer.example/certificates/{certificate_id}.pdf",
            },
        )

    def _compliance(self, request: SandboxRequest) -> Response:
        self._record(request)
        return (
            200,
            {},
            {
                "status": "action_required",
                "findings": [
                    {
                        "code": "AGM-MINUTES",
                        "summary": "Annual meeting minutes not filed",
                        "due_on": "2026-06-30",
                    }
                ],
            },
        )


if __name__ == "__main__":
    run_from_command_line(ProviderInterfaceSandbox)
