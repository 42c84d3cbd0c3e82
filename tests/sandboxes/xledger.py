"""XledgerSandbox: Xledger's GraphQL endpoint, answering the customer read the hub validates with.

Xledger publishes its schema only by introspection of the live service (specs/SOURCES.md), so the
sandbox plays a small slice of it, checked against Xledger's documentation
(https://xledgerukinternal.zendesk.com/hc/en-us/articles/8715787519634-GraphQL-general-tips) and
its own client sample (https://github.com/xledger/graphql-samples):
  POST /graphql  Authorization: token <api token>, JSON {"query", "variables"}
  query { customers(first: N) { edges { node { dbId ... } } } }  -> {"data": {"customers": {...}}}
Any other root field answers 200 {"errors": [...]} the way GraphQL servers do; `burst_limit_next()`
makes the next answer the BAD_REQUEST.BURST_RATE_LIMIT_REACHED error Xledger's sample handles. A
bad token answers 401 with an `errors` body; Xledger does not document that body, so its message
and code are the sandbox's own.
State: `api_token`, `customers`.
"""
from __future__ import annotations

import re
from typing import Any

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

# The operation's selection set: an optional `query Name` header, then the root fields.
_OPERATION = re.compile(r"^\s*(?:query\s*(?:[A-Za-z_]\w*)?\s*(?:\([^)]*\))?\s*)?\{(?P<body>.*)\}\s*$", re.S)
_ROOT_FIELD = re.compile(r"^\s*(?P<name>[A-Za-z_]\w*)\s*(?:\((?P<args>[^)]*)\))?")
_FIRST = re.compile(r"\bfirst\s*:\s*(\d+)")


class XledgerSandbox(SandboxServer):
    def __init__(self, *, api_token: str = "xledger-sandbox-api-token", **options: Any):
        super().__init__(**options)
        self.api_token = api_token
        self.customers = [{"dbId": "9011", "code": "K100", "description": "Klubb Nord"},
                          {"dbId": "9012", "code": "K200", "description": "Klubb Sør"}]
        self._burst_limited = False
        self.add_route("POST", "/graphql", self._graphql)
        # Pushes (sync): addGLImportItems and the glImportItems read, with their inputs in variables.
        self.accounts = {"1500", "1920", "2400", "2700", "2710", "3010", "3020", "7140"}
        self.gl_items: list[dict] = []
        self.creations = 0

    def burst_limit_next(self) -> None:
        self._burst_limited = True

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"errors": [{"message": message, "code": "BAD_REQUEST"}]}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.headers.get("authorization") != f"token {self.api_token}":
            return 401, {}, {"errors": [{"message": "Invalid or missing API token.", "code": "UNAUTHENTICATED"}]}
        return None

    def _gl_import(self, body: dict) -> Response | None:
        """addGLImportItems (lines of one balanced entry) and glImportItems by yourReference."""
        variables = body.get("variables") or {}
        if _GL_QUERY.match(body["query"]):
            found = [item for item in self.gl_items if item["yourReference"] == variables.get("reference")][:1]
            return 200, {}, {"data": {"glImportItems": {"edges": [{"node": {"dbId": i["dbId"]}} for i in found]}}}
        if not _GL_MUTATION.match(body["query"]):
            return None
        inputs = variables.get("inputs")
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) and "node" in i for i in inputs):
            return 200, {}, {"errors": [{"message": "Variable $inputs must be a non-empty list of {node}.",
                                         "code": "GRAPHQL_VALIDATION_FAILED"}]}
        nodes = [item["node"] for item in inputs]
        unknown = [str((node.get("account") or {}).get("code")) for node in nodes
                   if (node.get("account") or {}).get("code") not in self.accounts]
        if unknown:
            return 200, {}, {"errors": [{"message": f"Account '{unknown[0]}' does not exist.", "code": "BAD_REQUEST"}]}
        if round(sum(float(node.get("amount") or 0) for node in nodes), 2) != 0:
            return 200, {}, {"errors": [{"message": "The lines do not balance.", "code": "BAD_REQUEST"}]}
        with self._lock:
            created = []
            for node in nodes:
                item = {**node, "dbId": str(70000 + len(self.gl_items))}
                self.gl_items.append(item)
                created.append({"node": {"dbId": item["dbId"]}})
            self.creations += 1
        return 200, {}, {"data": {"addGLImportItems": {"edges": created}}}

    def _graphql(self, request: SandboxRequest) -> Response:
        body = request.parsed_body
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return self.error_response(400, 'The body must be JSON {"query": "...", "variables": {...}}.')
        if self._burst_limited:
            self._burst_limited = False
            return 200, {}, {"errors": [{"message": "Burst rate limit reached, slow down.",
                                         "code": "BAD_REQUEST.BURST_RATE_LIMIT_REACHED"}]}
        if (answer := self._gl_import(body)) is not None:
            return answer
        operation = _OPERATION.match(body["query"])
        field = _ROOT_FIELD.match(operation.group("body")) if operation else None
        if field is None:
            return 200, {}, {"errors": [{"message": "Syntax error in the GraphQL document.",
                                         "code": "GRAPHQL_PARSE_FAILED"}]}
        if field.group("name") != "customers":
            return 200, {}, {"errors": [{"message": f'Cannot query field "{field.group("name")}" on type "Query".',
                                         "code": "GRAPHQL_VALIDATION_FAILED"}]}
        first = _FIRST.search(field.group("args") or "")
        count = int(first.group(1)) if first else len(self.customers)
        edges = [{"node": customer} for customer in self.customers[:count]]
        return 200, {}, {"data": {"customers": {"edges": edges}}}


_GL_MUTATION = re.compile(r"^\s*mutation\b[^{]*\{\s*addGLImportItems\s*\(\s*inputs\s*:\s*\$inputs\s*\)", re.S)
_GL_QUERY = re.compile(r"^\s*query\b[^{]*\{\s*glImportItems\s*\(.*yourReference\s*:\s*\$reference", re.S)


if __name__ == "__main__":
    run_from_command_line(XledgerSandbox)
