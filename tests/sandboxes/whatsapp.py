"""WhatsAppSandbox: plays the WhatsApp Cloud API (Graph) for sending, checked against
specs/whatsapp-cloud.json, and builds the status webhooks Meta would post back.

Docs: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages ,
https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes ,
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components .
Behaviour played:
- Versioned paths (`/v23.0/...`); `Authorization: Bearer <token>`. An unknown token is Graph's
  401 OAuthException code 190; a phone number or account the token does not own is code 100.
- POST /{version}/{phone-number-id}/messages. Meta's description combines `allOf` with
  `additionalProperties: false`, which would refuse even Meta's own examples (see
  specs/SOURCES.md), so the `allOf` parts are merged into one closed object before checking.
  Templates must exist in `templates` (name -> languages and body parameter count): an unknown
  one is code 132001, a wrong parameter count 132000. Numbers in `unreachable` are refused
  with code 131026. Accepted messages get a `wamid.` id and are kept in `sent`.
- GET /{version}/{waba-id}/message_templates?limit=N lists the account's templates.
- `status_webhook()` builds a signed `statuses` webhook (sent / delivered / read / failed) for
  a sent message, checked against the description's `WebhookPayload`.
Run it on its own with `python -m tests.sandboxes.whatsapp --port N`.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import SPECS_DIR, SpecValidator

DEFAULT_TOKEN = "EAAGsandboxWhatsAppToken0123456789"
DEFAULT_PHONE_NUMBER_ID = "106540352242922"
DEFAULT_WABA_ID = "102290129340398"
DEFAULT_DISPLAY_NUMBER = "15550783881"
# Graph error codes the sandbox answers for an injected status.
_CODES_BY_STATUS = {400: (100, "Invalid parameter"), 401: (190, "Invalid OAuth access token"),
                    429: (130429, "Rate limit hit"), 500: (131000, "Something went wrong"),
                    503: (2, "Service temporarily unavailable")}


def _merge_all_of(node: Any, schemas: dict) -> Any:
    if isinstance(node, list):
        return [_merge_all_of(item, schemas) for item in node]
    if not isinstance(node, dict):
        return node
    node = {name: _merge_all_of(value, schemas) for name, value in node.items()}
    parts = node.get("allOf")
    if not isinstance(parts, list):
        return node
    resolved = [schemas[part["$ref"].rsplit("/", 1)[-1]] if "$ref" in part else part for part in parts]
    if not any(part.get("additionalProperties") is False for part in resolved):
        return node
    merged = {name: value for name, value in node.items() if name != "allOf"}
    merged.update(type="object", additionalProperties=False, properties={}, required=[])
    for part in resolved:
        merged["properties"].update(part.get("properties", {}))
        merged["required"] += [name for name in part.get("required", []) if name not in merged["required"]]
    return merged


@lru_cache(maxsize=1)
def whatsapp_validator() -> SpecValidator:
    spec = json.loads((SPECS_DIR / "whatsapp-cloud.json").read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    spec["components"]["schemas"] = {name: _merge_all_of(schema, schemas) for name, schema in schemas.items()}
    return SpecValidator(copy.deepcopy(spec))


@dataclass
class Template:
    languages: frozenset[str]
    body_parameters: int = 0
    category: str = "UTILITY"


@dataclass
class Account:
    phone_number_ids: set[str] = field(default_factory=lambda: {DEFAULT_PHONE_NUMBER_ID})
    waba_ids: set[str] = field(default_factory=lambda: {DEFAULT_WABA_ID})


class WhatsAppSandbox(SandboxServer):
    def __init__(self, *, app_secret: str = "meta-app-secret-sandbox", **server_options):
        super().__init__(validator=whatsapp_validator(), **server_options)
        self.app_secret = app_secret
        self._state_lock = threading.Lock()
        self.tokens: dict[str, Account] = {DEFAULT_TOKEN: Account()}
        self.templates: dict[str, Template] = {
            "tournament_reminder": Template(frozenset({"en_US", "sv"}), body_parameters=2),
            "hello_world": Template(frozenset({"en_US"})),
        }
        self.unreachable: set[str] = set()
        self.sent: list[dict] = []  # (request body + "id")
        self.send_delay_seconds = 0.0  # sends only; the request is recorded on arrival
        self.add_route("POST", "/{version}/{phone_number_id}/messages", self._messages)
        self.add_route("GET", "/{version}/{waba_id}/message_templates", self._templates)

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self.sent.clear()
            self.unreachable.clear()

    def control_state(self) -> dict[str, Any]:
        with self._state_lock:
            return {"sent": [message["id"] for message in self.sent]}

    # hooks ---------------------------------------------------------------------------------

    def error_response(self, status: int, message: str, *, code: int | None = None,
                       details: str = "") -> Response:
        default_code, title = _CODES_BY_STATUS.get(status, (1, "API Unknown"))
        error: dict[str, Any] = {"message": f"({code or default_code}) {title}: {message}", "type": "OAuthException",
                                 "code": code or default_code, "fbtrace_id": secrets.token_urlsafe(8)}
        if details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": details}
        if status >= 500 or status == 429:
            error["is_transient"] = status != 429
        return status, {}, {"error": error}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            return self.error_response(401, "Cannot parse access token", code=190)
        return None

    # routes --------------------------------------------------------------------------------

    def _account(self, request: SandboxRequest) -> Account:
        return self.tokens[request.headers["authorization"].partition(" ")[2]]

    def _messages(self, request: SandboxRequest) -> Response:
        if self.send_delay_seconds:
            time.sleep(self.send_delay_seconds)
        phone_number_id = request.path_params["phone_number_id"]
        if phone_number_id not in self._account(request).phone_number_ids:
            return self.error_response(400, f"Unsupported post request. Object with ID '{phone_number_id}' "
                                            "does not exist or cannot be loaded", code=100)
        body = request.parsed_body
        to = str(body["to"])
        if body["type"] == "template":
            refusal = self._template_refusal(body["template"])
            if refusal is not None:
                return refusal
        if to.lstrip("+") in {number.lstrip("+") for number in self.unreachable}:
            return self.error_response(400, "Message undeliverable", code=131026,
                                       details="the recipient cannot receive WhatsApp messages")
        message_id = "wamid." + base64.b64encode(secrets.token_bytes(24)).decode().rstrip("=")
        with self._state_lock:
            self.sent.append({**body, "id": message_id, "phone_number_id": phone_number_id})
        return 200, {}, {"messaging_product": "whatsapp",
                         "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                         "messages": [{"id": message_id, "message_status": "accepted"}]}

    def _template_refusal(self, template: dict) -> Response | None:
        known = self.templates.get(template["name"])
        language = template["language"]["code"]
        if known is None or language not in known.languages:
            return self.error_response(404, f"Template name does not exist in the translation ({language})",
                                       code=132001, details=f"template name ({template['name']}) does not exist "
                                                            f"in {language}")
        body = [c for c in template.get("components", []) if c.get("type") == "body"]
        given = len(body[0].get("parameters", [])) if body else 0
        if given != known.body_parameters:
            return self.error_response(400, "Number of parameters does not match the expected number of params",
                                       code=132000, details=f"body: number of localizable_params ({given}) does "
                                                            f"not match the expected number of params "
                                                            f"({known.body_parameters})")
        return None

    def _templates(self, request: SandboxRequest) -> Response:
        waba_id = request.path_params["waba_id"]
        if waba_id not in self._account(request).waba_ids:
            return self.error_response(400, f"Object with ID '{waba_id}' does not exist", code=100)
        limit = int((request.query.get("limit") or ["25"])[0])
        name = (request.query.get("name") or [None])[0]
        data = [{"id": str(abs(hash(template_name)) % 10**15), "name": template_name, "status": "APPROVED",
                 "category": template.category, "language": language, "components": []}
                for template_name, template in sorted(self.templates.items())
                for language in sorted(template.languages) if name in (None, template_name)]
        return 200, {}, {"data": data[:limit], "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}}}

    # webhooks --------------------------------------------------------------------------------

    def status_webhook(self, message_id: str, status: str, *, recipient: str, timestamp: int | None = None,
                       phone_number_id: str = DEFAULT_PHONE_NUMBER_ID, error_code: int | None = None) -> dict:
        """A `statuses` notification as Meta posts it; failed ones carry `errors`."""
        entry_status: dict[str, Any] = {"id": message_id, "status": status,
                                        "timestamp": str(timestamp or int(time.time())),
                                        "recipient_id": recipient.lstrip("+")}
        if status in ("sent", "delivered"):
            entry_status["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "utility"}
        if status == "failed":
            code = error_code or 131026
            entry_status["errors"] = [{"code": code, "title": "Message undeliverable",
                                       "message": "Message undeliverable",
                                       "error_data": {"details": "Message Undeliverable."}}]
        payload = {"object": "whatsapp_business_account", "entry": [{"id": DEFAULT_WABA_ID, "changes": [{
            "field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": DEFAULT_DISPLAY_NUMBER,
                                   "phone_number_id": phone_number_id},
                      "statuses": [entry_status]}}]}]}
        problems = self.validator.object_violations("WebhookPayload", payload)
        if problems:
            raise AssertionError(f"the sandbox built a webhook Meta would not send: {problems}")
        return payload

    def signed(self, payload: dict) -> tuple[bytes, dict[str, str]]:
        """The body and the X-Hub-Signature-256 header Meta signs it with (HMAC of the App Secret)."""
        body = json.dumps(payload).encode()
        digest = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return body, {"X-Hub-Signature-256": f"sha256={digest}"}


if __name__ == "__main__":
    run_from_command_line(WhatsAppSandbox)
