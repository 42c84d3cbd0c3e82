"""FcmSandbox: plays Firebase Cloud Messaging HTTP v1 and Google's OAuth2 token endpoint.

Docs: https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send ,
https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode ,
https://developers.google.com/identity/protocols/oauth2/service-account#httprest (JWT grant).
Behaviour played:
- POST /token: the JWT-bearer grant. The assertion must be RS256-signed by a service account
  the sandbox issued (`service_account()`), addressed (`aud`) to Google's endpoint, asking for
  a Firebase scope; the answer is a bearer token valid for an hour. Anything else is
  Google's 400 `invalid_grant`.
- POST /v1/projects/{project}/messages:send, checked against specs/fcm-v1.json. Google's
  proto-JSON parser takes field names in snake_case (what firebase-admin sends) as well as
  lowerCamelCase (what the description lists) and enum values in any case, and it refuses
  unknown fields; so the body is normalised to the description's spelling and checked with
  every object closed. Exactly one of token / topic / condition; at most 4096 bytes.
- Tokens in `unregistered` answer 404 UNREGISTERED; `validate_only` answers Google's
  `fake_message_id` and sends nothing. Accepted messages are kept in `sent`.
- Errors use Google's shape: `{"error": {"code", "message", "status", "details": [FcmError]}}`.
Run it on its own with `python -m tests.sandboxes.fcm --port N`.
"""
from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import SPECS_DIR, SpecValidator

SEND_PATH = "/v1/projects/{project}/messages:send"
TOKEN_PATH = "/token"
# google-auth addresses every assertion to Google's token endpoint, whatever `token_uri`
# says, and that endpoint checks `aud` against its own URL.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
FIREBASE_SCOPES = frozenset({"https://www.googleapis.com/auth/firebase.messaging",
                             "https://www.googleapis.com/auth/cloud-platform"})
MAX_MESSAGE_BYTES = 4096
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
# What FCM names the failure in `details[].errorCode` for a given HTTP status.
_FCM_CODES = {400: "INVALID_ARGUMENT", 404: "UNREGISTERED", 429: "QUOTA_EXCEEDED", 500: "INTERNAL",
              503: "UNAVAILABLE", 401: "THIRD_PARTY_AUTH_ERROR", 403: "SENDER_ID_MISMATCH"}
# Maps whose keys are the sender's own (data, headers, APNs payload): never renamed or closed.
_FREE_MAPS = frozenset({"data", "headers", "payload"})
_TOPIC = re.compile(r"[a-zA-Z0-9\-_.~%]{1,900}")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def proto_json(value: Any, *, parent: str = "") -> Any:
    """The body spelled as the description spells it: lowerCamelCase names outside free maps."""
    if isinstance(value, dict):
        if parent in _FREE_MAPS or parent == "webpush.notification":
            return value
        renamed = {}
        for name, item in value.items():
            camel = _camel(name)
            where = "webpush.notification" if (parent == "webpush" and camel == "notification") else camel
            renamed[camel] = proto_json(item, parent=where)
        return renamed
    if isinstance(value, list):
        return [proto_json(item, parent=parent) for item in value]
    return value


def _close_objects(node: Any) -> None:
    """Give every object schema with `properties` `additionalProperties: false` (proto JSON
    refuses unknown names), leaving declared maps alone."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for name, child in node.items():
            if name == "properties" and isinstance(child, dict):
                for schema in child.values():
                    _close_objects(schema)
            elif name != "examples":
                _close_objects(child)
    elif isinstance(node, list):
        for child in node:
            _close_objects(child)


@lru_cache(maxsize=1)
def fcm_validator() -> SpecValidator:
    spec = json.loads((SPECS_DIR / "fcm-v1.json").read_text(encoding="utf-8"))
    _close_objects(spec["components"]["schemas"])
    return SpecValidator(copy.deepcopy(spec))


@lru_cache(maxsize=8)
def _rsa_key(label: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class ServiceAccount:
    client_email: str
    projects: frozenset[str]
    public_key: Any


class FcmSandbox(SandboxServer):
    def __init__(self, **server_options):
        super().__init__(**server_options)
        self._state_lock = threading.Lock()
        self._ids = itertools.count(1)
        self.accounts: dict[str, ServiceAccount] = {}
        self.access_tokens: dict[str, str] = {}  # bearer token -> client email
        self.unregistered: set[str] = set()
        self.sent: list[dict] = []
        # Sends only (the token endpoint stays quick): the request is recorded on arrival, so a
        # client that dies while waiting leaves a request the provider did receive.
        self.send_delay_seconds = 0.0
        self.add_route("POST", TOKEN_PATH, self._token_grant)
        self.add_route("POST", SEND_PATH, self._messages_send)

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    def service_account(self, *, project_id: str = "hub-test", key_label: str = "default",
                        client_email: str | None = None) -> str:
        """A service account JSON the sandbox accepts, its token_uri pointing here."""
        private_key = _rsa_key(key_label)
        email = client_email or f"firebase-adminsdk@{project_id}.iam.gserviceaccount.com"
        with self._state_lock:
            self.accounts[email] = ServiceAccount(email, frozenset({project_id}), private_key.public_key())
        pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
        return json.dumps({
            "type": "service_account", "project_id": project_id, "private_key_id": key_label,
            "private_key": pem, "client_email": email, "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": self.token_url,
        })

    def sent_references(self) -> list[str]:
        with self._state_lock:
            return [message.get("data", {}).get("hub_message_id", "") for message in self.sent]

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self.sent.clear()
            self.unregistered.clear()

    def control_state(self) -> dict[str, Any]:
        return {"sent": self.sent_references()}

    # hooks ---------------------------------------------------------------------------------

    def error_response(self, status: int, message: str, *, fcm_code: str | None = None) -> Response:
        error: dict[str, Any] = {"code": status, "message": message,
                                 "status": _STATUS_NAMES.get(status, "UNKNOWN")}
        code = _FCM_CODES.get(status) if fcm_code is None else fcm_code
        if code:
            error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": code}]
        return status, {}, {"error": error}

    # routes --------------------------------------------------------------------------------

    def _token_grant(self, request: SandboxRequest) -> Response:
        params = request.params
        if params.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {}, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
        assertion = str(params.get("assertion", ""))
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            account = self.accounts.get(str(unverified.get("iss")))
            if account is None:
                raise jwt.InvalidTokenError("unknown issuer")
            claims = jwt.decode(assertion, account.public_key, algorithms=["RS256"],
                                audience=GOOGLE_TOKEN_AUDIENCE)
        except jwt.InvalidTokenError:
            return 400, {}, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if not FIREBASE_SCOPES & set(str(claims.get("scope", "")).split()):
            return 400, {}, {"error": "invalid_scope", "error_description": "No Firebase scope requested."}
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        with self._state_lock:
            self.access_tokens[token] = account.client_email
        return 200, {}, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _messages_send(self, request: SandboxRequest) -> Response:
        if self.send_delay_seconds:
            time.sleep(self.send_delay_seconds)
        project = request.path_params["project"]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        email = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if email is None:
            return self.error_response(401, "Request had invalid authentication credentials. Expected OAuth 2 "
                                             "access token, login cookie or other valid authentication credential.",
                                       fcm_code="")
        if project not in self.accounts[email].projects:
            return self.error_response(403, f"Permission 'cloudmessaging.messages.create' denied on "
                                            f"resource '//cloudresourcemanager.googleapis.com/projects/{project}'",
                                       fcm_code="")
        try:
            body = json.loads(request.body)
        except ValueError:
            return self.error_response(400, "Invalid JSON payload received.")
        normalised = proto_json(body)
        android = normalised.get("message", {}).get("android")
        if isinstance(android, dict) and isinstance(android.get("priority"), str):
            android["priority"] = android["priority"].upper()  # enums parse in any case
        violations = fcm_validator().validate(
            method="POST", path=request.path, query_string=request.query_string,
            headers={**request.headers, "content-type": "application/json"},
            body=json.dumps(normalised).encode())
        if violations:
            self._record_violations(request, violations)
            return self.violations_response(violations)
        message = normalised.get("message") or {}
        targets = [name for name in ("token", "topic", "condition") if message.get(name)]
        if len(targets) != 1:
            return self.error_response(400, "Exactly one of token, topic or condition must be specified.")
        if "topic" in message and not _TOPIC.fullmatch(message["topic"]):
            return self.error_response(400, f"Invalid topic name: {message['topic']}")
        if len(json.dumps(message, separators=(",", ":")).encode()) > MAX_MESSAGE_BYTES:
            return self.error_response(400, "Message is too big.")
        if message.get("token") in self.unregistered:
            return self.error_response(404, "Requested entity was not found.")
        if normalised.get("validateOnly"):
            return 200, {}, {"name": f"projects/{project}/messages/fake_message_id"}
        with self._state_lock:
            self.sent.append(message)
            name = f"projects/{project}/messages/0:{int(time.time() * 1000)}%{next(self._ids):016x}"
        return 200, {}, {"name": name}

    def _record_violations(self, request: SandboxRequest, violations) -> None:
        request.violations = list(violations)
        with self._lock:
            self._violations.extend(f"{request}: {violation}" for violation in violations)


if __name__ == "__main__":
    run_from_command_line(FcmSandbox)
