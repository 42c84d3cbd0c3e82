"""SendGridSandbox: plays SendGrid v3 Mail Send, checked against specs/sendgrid-mail.json.

Docs: https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send (errors:
https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/responses).
Behaviour played:
- `Authorization: Bearer <API key>`; a wrong key is 401, a key without the `mail.send` scope 403,
  in SendGrid's `{"errors": [{"field", "message"}]}` shape.
- POST /v3/mail/send answers 202 with an `X-Message-Id` header and an empty body; with
  `mail_settings.sandbox_mode.enable` it answers 200, sends nothing and sets no id.
- A sender outside `verified_senders` (when that is set) is refused 403, as SendGrid refuses
  a from address without a verified Sender Identity.
Run it on its own with `python -m tests.sandboxes.sendgrid --port N`.
"""

from __future__ import annotations

import hmac
import secrets
import string
import threading
from typing import Any

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import spec_validator

DEFAULT_API_KEY = "SG.sandbox0123456789.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def message_id() -> str:
    """An X-Message-Id: 22 URL-safe characters, as SendGrid hands them out."""
    return "".join(secrets.choice(string.ascii_letters + string.digits + "-_") for _ in range(22))


class SendGridSandbox(SandboxServer):
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        scopes: tuple[str, ...] = ("mail.send",),
        verified_senders: set[str] | None = None,
        **server_options: Any,
    ):
        super().__init__(validator=spec_validator("sendgrid-mail.json"), **server_options)
        self.api_key = api_key
        self.scopes = scopes
        self.verified_senders = verified_senders
        self._state = threading.Lock()
        self.mails: list[dict] = []  # accepted, non-sandbox bodies, each with its "x_message_id"
        self.sandbox_sends = 0
        self.add_route("POST", "/v3/mail/send", self._send_mail)

    def reset(self) -> None:
        super().reset()
        with self._state:
            self.mails = []
            self.sandbox_sends = 0

    def control_state(self) -> dict[str, Any]:
        return {"mails": len(self.mails), "sandbox_sends": self.sandbox_sends}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.encode(), self.api_key.encode()
        ):
            return self.error_response(
                401, "The provided authorization grant is invalid, expired, or revoked"
            )
        if "mail.send" not in self.scopes:
            return self.error_response(403, "access forbidden")
        return None

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"errors": [{"field": None, "message": message}]}

    def _send_mail(self, request: SandboxRequest) -> Response:
        body = request.parsed_body
        sender = body["from"]["email"]
        if self.verified_senders is not None and sender not in self.verified_senders:
            return (
                403,
                {},
                {
                    "errors": [
                        {
                            "field": "from",
                            "message": "The from address does not match a "
                            "verified Sender Identity.",
                        }
                    ]
                },
            )
        if body.get("mail_settings", {}).get("sandbox_mode", {}).get("enable"):
            with self._state:
                self.sandbox_sends += 1
            return 200, {}, b""
        sent_id = message_id()
        with self._state:
            self.mails.append(body | {"x_message_id": sent_id})
        return 202, {"X-Message-Id": sent_id}, b""


if __name__ == "__main__":
    run_from_command_line(SendGridSandbox)
