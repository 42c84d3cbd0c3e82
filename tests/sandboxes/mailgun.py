"""MailgunSandbox: plays Mailgun's messages and events API, checked against specs/mailgun.json.

Docs: https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages and
https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/tag/Events/.
Behaviour played:
- Basic auth with user `api` and the API key; anything else is 401 with the body "Forbidden".
- POST /v3/{domain}/messages takes multipart/form-data (the only body the description
  declares) and answers `{"id": "<…@domain>", "message": "Queued. Thank you."}`; a domain
  the account does not have is 404.
- GET /v3/{domain}/events answers an empty page.
Run it on its own with `python -m tests.sandboxes.mailgun --port N`.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hmac
import json
import secrets
import threading
import time
from typing import Any

from openapi_core.testing import MockRequest

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import (
    SPECS_DIR,
    SpecValidator,
    SpecViolation,
    _multi_dict_args,
    _violations_from_core_error,
)

DEFAULT_API_KEY = "key-sandbox0123456789abcdef0123456789"
DEFAULT_DOMAIN = "mg.example.org"


class _MultipartSpecValidator(SpecValidator):
    """openapi-core needs the multipart boundary, which the shared validator strips from the
    content type before it hands the request over; here the whole header is passed."""

    def _validate_with_openapi_core(
        self, method, path, query_string, headers, body
    ) -> list[SpecViolation]:
        content_type = headers.get("content-type", "")
        request = MockRequest(
            self.host_url,
            method,
            path,
            args=_multi_dict_args(query_string),
            headers=headers,
            data=body,
            content_type=content_type,
        )
        violations: list[SpecViolation] = []
        for validator in self._core_validators:
            for error in validator.iter_errors(request):
                violations.extend(_violations_from_core_error(error))
        return violations


_validator: SpecValidator | None = None
_validator_lock = threading.Lock()


def mailgun_validator() -> SpecValidator:
    global _validator
    with _validator_lock:
        if _validator is None:
            _validator = _MultipartSpecValidator(
                json.loads((SPECS_DIR / "mailgun.json").read_text("utf-8"))
            )
        return _validator


def multipart_fields(request: SandboxRequest) -> list[tuple[str, str]]:
    """The (name, value) pairs of a multipart/form-data body, repeated names kept in order."""
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    # Form fields carry no charset of their own; browsers and HTTP clients send UTF-8.
    return [
        (
            part.get_param("name", header="content-disposition"),
            part.get_payload(decode=True).decode("utf-8"),
        )
        for part in message.iter_parts()
    ]


class MailgunSandbox(SandboxServer):
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        domains: tuple[str, ...] = (DEFAULT_DOMAIN,),
        **server_options: Any,
    ):
        super().__init__(validator=mailgun_validator(), **server_options)
        self.api_key = api_key
        self.domains = set(domains)
        self._state = threading.Lock()
        self.messages: list[dict] = []  # each: "id" and "fields", the form pairs as sent
        self.add_route("POST", "/v3/{domain_name}/messages", self._send_mail)
        self.add_route("GET", "/v3/{domain_name}/events", self._events)

    def reset(self) -> None:
        super().reset()
        with self._state:
            self.messages = []

    def control_state(self) -> dict[str, Any]:
        return {"messages": len(self.messages)}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, key = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, key = "", ""
        if (
            scheme.lower() != "basic"
            or user != "api"
            or not hmac.compare_digest(key.encode(), self.api_key.encode())
        ):
            return 401, {}, "Forbidden"
        return None

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"message": message}

    def _domain_missing(self, request: SandboxRequest) -> Response | None:
        domain = request.path_params["domain_name"]
        return (
            None
            if domain in self.domains
            else self.error_response(404, f"Domain not found: {domain}")
        )

    def _send_mail(self, request: SandboxRequest) -> Response:
        if (missing := self._domain_missing(request)) is not None:
            return missing
        domain = request.path_params["domain_name"]
        sent_id = f"<{time.strftime('%Y%m%d%H%M%S')}.{secrets.token_hex(8)}@{domain}>"
        with self._state:
            self.messages.append({"id": sent_id, "fields": multipart_fields(request)})
        return 200, {}, {"id": sent_id, "message": "Queued. Thank you."}

    def _events(self, request: SandboxRequest) -> Response:
        if (missing := self._domain_missing(request)) is not None:
            return missing
        page = f"https://api.mailgun.net/v3/{request.path_params['domain_name']}/events/{secrets.token_hex(8)}"
        return (
            200,
            {},
            {"items": [], "paging": {"first": page, "last": page, "next": page, "previous": page}},
        )


if __name__ == "__main__":
    run_from_command_line(MailgunSandbox)
