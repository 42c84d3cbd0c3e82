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

    def burst_limit_next(self) -> None:
        self._burst_limited = True

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"errors": [{"message": message, "code": "BAD_REQUEST"}]}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.headers.get("authorization") != f"token {self.api_token}":
            return 401, {}, {"errors": [{"message": "Invalid or missing API token.", "code": "UNAUTHENTICATED"}]}
        return None

    def _graphql(self, request: SandboxRequest) -> Response:
        body = request.parsed_body
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return self.error_response(400, 'The body must be JSON {"query": "...", "variables": {...}}.')
        if self._burst_limited:
            self._burst_limited = False
            return 200, {}, {"errors": [{"message": "Burst rate limit reached, slow down.",
                                         "code": "BAD_REQUEST.BURST_RATE_LIMIT_REACHED"}]}
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


if __name__ == "__main__":
    run_from_command_line(XledgerSandbox)
