"""HubErpSandbox: an outside ERP implementing the hub's ERP interface
(docs/provider-interfaces/erp.openapi.json). Every request is checked against that document;
the API key is `api_key`. Records are kept per collection by the hub's reference, so a PUT of
a known reference updates (200) and a new one creates (201).
State: `records` (collection -> reference -> {"id", "body", "updated_at"}), `creations`,
`updates`, `capabilities`.
"""
from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import SpecValidator

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "provider-interfaces" / "erp.openapi.json"
COLLECTIONS = ("invoices", "payments", "expenses", "reimbursements", "members")
_validator: SpecValidator | None = None
_validator_lock = threading.Lock()


def erp_validator() -> SpecValidator:
    global _validator
    with _validator_lock:
        if _validator is None:
            _validator = SpecValidator(json.loads(DOCUMENT.read_text(encoding="utf-8")))
        return _validator


class HubErpSandbox(SandboxServer):
    def __init__(self, *, api_key: str = "erp-sandbox-api-key", **options: Any):
        options.setdefault("validator", erp_validator())
        super().__init__(**options)
        self.api_key = api_key
        self.capabilities = list(COLLECTIONS)
        self.records: dict[str, dict[str, dict]] = {name: {} for name in COLLECTIONS}
        self.creations = self.updates = 0
        self._state = threading.RLock()
        self.add_route("GET", "/v1/status", lambda request: (200, {}, {
            "name": "Sandbox ERP", "interface_version": "1.0.0", "capabilities": self.capabilities}))
        for name in COLLECTIONS:
            self.add_route("PUT", f"/v1/{name}/{{reference}}", self._put(name))
            self.add_route("GET", f"/v1/{name}/{{reference}}", self._get(name))

    def error_response(self, status: int, message: str) -> Response:
        return status, {"Content-Type": "application/problem+json"}, {
            "type": "about:blank", "title": "Error", "status": status, "detail": message}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error_response(401, "Missing or wrong API key.")
        return None

    def _put(self, collection: str):
        def handler(request: SandboxRequest) -> Response:
            reference = unquote(request.path_params["reference"])
            if collection not in self.capabilities:
                return self.error_response(400, f"This ERP does not accept {collection}.")
            if request.parsed_body.get("reference") != reference:
                return self.error_response(400, "The body's reference differs from the path's.")
            now = datetime.now(UTC).isoformat()
            with self._state:
                stored = self.records[collection].get(reference)
                created = stored is None
                if created:
                    stored = self.records[collection][reference] = {"id": str(uuid.uuid4())}
                    self.creations += 1
                else:
                    self.updates += 1
                stored.update(body=request.parsed_body, updated_at=now)
            return (201 if created else 200), {}, {"id": stored["id"], "updated_at": now}
        return handler

    def _get(self, collection: str):
        def handler(request: SandboxRequest) -> Response:
            stored = self.records[collection].get(unquote(request.path_params["reference"]))
            if stored is None:
                return self.error_response(404, "No record with this reference.")
            return 200, {}, {"id": stored["id"], "updated_at": stored["updated_at"]}
        return handler


if __name__ == "__main__":
    run_from_command_line(HubErpSandbox)
