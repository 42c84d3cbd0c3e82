"""SandboxServer: a local HTTP server on loopback that plays a provider in tests and benchmarks.

In process: `with StripeSandbox() as sandbox: ... sandbox.url ...`. As a separate process (for
benchmarks behind gunicorn): `python -m tests.sandboxes.stripe --port 8911`, which also turns on
the `/__sandbox/` control endpoints so the benchmark can inject faults and read the counters.

Every request is recorded, checked against the provider's OpenAPI description when the sandbox
has one (a violation is recorded and answered 400 in the provider's error shape), then faults,
authentication and the route table decide the answer.

Going down (`go_down()`) closes the listening socket and every open connection, so clients see
"connection refused" (ECONNREFUSED) and dropped keep-alive connections, like a host that is off.
`go_down(refuse_connections=False)` keeps the socket and answers every request 503 instead, like
a provider behind a load balancer with no healthy backend. `come_back()` listens again on the
same port.
"""
from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.sandboxes.openapi import SpecValidator, SpecViolation, decode_bracket_form

# (status, headers, body). A dict or list body is sent as JSON; str and bytes as they are.
Response = tuple[int, Mapping[str, str], Any]
Handler = Callable[["SandboxRequest"], Response]
CONTROL_PREFIX = "/__sandbox/"
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass
class SandboxRequest:
    """One request as the sandbox received it. Header names are lower-cased."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    client_address: tuple[str, int] = ("", 0)  # one port per TCP connection: shows keep-alive
    path_params: dict[str, str] = field(default_factory=dict)
    violations: list[SpecViolation] = field(default_factory=list)
    status: int | None = None  # what the sandbox answered, set once it has

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def parsed_body(self) -> Any:
        """JSON bodies as Python values, form bodies as bracket-decoded dicts, otherwise None."""
        if not self.body:
            return None
        if self.content_type == "application/x-www-form-urlencoded":
            return decode_bracket_form(self.body)
        if self.content_type == "application/json" or self.content_type.endswith("+json"):
            try:
                return json.loads(self.body)
            except ValueError:
                return None
        return None

    @property
    def params(self) -> dict[str, Any]:
        """Query and body parameters together, the way form-encoding providers read them."""
        merged = decode_bracket_form(self.query_string)
        body = self.parsed_body
        if isinstance(body, dict):
            merged.update(body)
        return merged


class _Route:
    def __init__(self, method: str, template: str, handler: Handler):
        self.method = method.upper()
        self.template = template
        self.handler = handler
        def placeholder(match: re.Match) -> str:
            return f"(?P<{match.group(1).replace('-', '_')}>[^/]+)"

        pattern = re.sub(r"\{([A-Za-z_][A-Za-z0-9_-]*)\}", placeholder, template)
        self.regex = re.compile(f"^{pattern}$")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler_class, sandbox: SandboxServer):
        self.sandbox = sandbox
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler_class)

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def drop_open_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a benchmark is not measuring TCP handshakes
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK and every keep-alive response takes ~40 ms.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _dispatch(self):
        self.server.sandbox._handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def log_message(self, format, *args):
        pass  # tests and benchmarks read `.requests`, not stderr


class SandboxServer:
    """A provider on 127.0.0.1. Subclasses add routes in `__init__` and override the hooks
    `authenticate`, `error_response` and `violations_response` to speak their provider's shapes."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        validator: SpecValidator | None = None,
        max_recorded: int | None = None,
        control_endpoints: bool = False,
    ):
        self.host = host
        self.port = port
        self.validator = validator
        self.control_endpoints = control_endpoints
        self._routes: list[_Route] = []
        self._lock = threading.RLock()
        self._requests: deque[SandboxRequest] = deque(maxlen=max_recorded)
        self._violations: list[str] = []
        self._request_count = 0
        self._faults: deque[Response] = deque()
        self._delay_seconds = 0.0
        self._down_with_503 = False
        self._http: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ------------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        self._http = _HTTPServer((self.host, self.port), _RequestHandler, self)
        self.port = self._http.server_address[1]  # keep the ephemeral port for come_back()
        # A short poll interval makes stop() and go_down() take milliseconds, not half a second.
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02},
            name=f"{type(self).__name__}:{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http.drop_open_connections()
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The root URL, e.g. http://127.0.0.1:49152 (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_base_url(self) -> str:
        """The root URL plus the spec's server base path (`/v1.0` for Microsoft Graph)."""
        return self.url + (self.validator.base_path if self.validator else "")

    # routes and hooks -----------------------------------------------------------------------

    def add_route(self, method: str, template: str, handler: Handler) -> None:
        """`template` uses `{name}` placeholders: "/v1/payment_intents/{intent}"."""
        self._routes.append(_Route(method, template, handler))

    def authenticate(self, request: SandboxRequest) -> Response | None:
        """None when the request may proceed; otherwise the provider's refusal."""
        return None

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"error": {"status": status, "message": message}}

    def violations_response(self, violations: list[SpecViolation]) -> Response:
        return self.error_response(400, "; ".join(str(violation) for violation in violations))

    # what tests read --------------------------------------------------------------------------

    @property
    def requests(self) -> list[SandboxRequest]:
        """Snapshot of the recorded requests, oldest first (the newest `max_recorded` if set)."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        """Every request received, including ones no longer kept by `max_recorded`."""
        with self._lock:
            return self._request_count

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def take_violations(self) -> list[str]:
        """Return and forget the violations, for tests that send bad requests on purpose."""
        with self._lock:
            taken, self._violations = self._violations, []
            return taken

    # fault injection ------------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, status: int = 503, body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """The next `n` requests get `status` (body defaults to the provider's error shape)."""
        headers = {"Retry-After": "1"} if headers is None else dict(headers)
        with self._lock:
            for _ in range(n):
                if body is None:
                    _, shaped_headers, shaped_body = self.error_response(status, "Injected fault.")
                    self._faults.append((status, {**shaped_headers, **headers}, shaped_body))
                else:
                    self._faults.append((status, headers, body))

    def delay(self, seconds: float) -> None:
        """Wait this long before answering every request from now on (0 turns it off)."""
        with self._lock:
            self._delay_seconds = max(0.0, float(seconds))

    def go_down(self, *, refuse_connections: bool = True) -> None:
        """Refuse connections (default) or answer every request 503; see the module docstring."""
        if not refuse_connections:
            with self._lock:
                self._down_with_503 = True
            return
        self.stop()

    def come_back(self) -> None:
        with self._lock:
            self._down_with_503 = False
        if self._http is None:
            self.start()

    def reset(self) -> None:
        """Forget recorded requests, violations and pending faults; stop delaying. Subclasses
        extend it to clear their stored objects."""
        with self._lock:
            self._requests.clear()
            self._violations.clear()
            self._request_count = 0
            self._faults.clear()
            self._delay_seconds = 0.0
            self._down_with_503 = False

    # request handling -------------------------------------------------------------------------

    def _handle(self, http: _RequestHandler) -> None:
        split = urlsplit(http.path)
        body = http.read_body()
        if body is None:
            message = f"Request bodies are limited to {MAX_BODY_BYTES} bytes."
            self._send(http, self.error_response(413, message))
            http.close_connection = True
            return
        request = SandboxRequest(
            method=http.command,
            path=split.path,
            query_string=split.query,
            headers={name.lower(): value for name, value in http.headers.items()},
            body=body,
            client_address=http.client_address[:2],
        )
        if self.control_endpoints and request.path.startswith(CONTROL_PREFIX):
            self._send(http, self._control(request))
            return
        response = self._respond(request)
        request.status = response[0]
        self._send(http, response)

    def _respond(self, request: SandboxRequest) -> Response:
        if self.validator is not None:
            request.violations = self.validator.validate(
                method=request.method,
                path=request.path,
                query_string=request.query_string,
                headers=request.headers,
                body=request.body,
            )
        with self._lock:
            self._request_count += 1
            self._requests.append(request)
            self._violations.extend(f"{request}: {violation}" for violation in request.violations)
            delay_seconds = self._delay_seconds
            fault = self._faults.popleft() if self._faults else None
            down = self._down_with_503
        if delay_seconds:
            time.sleep(delay_seconds)
        if fault is not None:
            return fault
        if down:
            return self.error_response(503, "The sandbox is down.")
        refusal = self.authenticate(request)
        if refusal is not None:
            return refusal
        if request.violations:
            return self.violations_response(request.violations)
        return self._route(request)

    def _route(self, request: SandboxRequest) -> Response:
        path_matched = False
        for route in self._routes:
            match = route.regex.match(request.path)
            if match is None:
                continue
            path_matched = True
            if route.method == request.method:
                request.path_params = match.groupdict()
                try:
                    return route.handler(request)
                except Exception as error:  # a sandbox bug must fail the test, not hang the client
                    with self._lock:
                        self._violations.append(f"{request}: the sandbox crashed: {error!r}")
                    return self.error_response(500, "The sandbox failed to handle this request.")
        if path_matched:
            return self.error_response(405, f"{request.method} is not allowed on {request.path}.")
        message = f"Unrecognized request URL ({request.method}: {request.path})."
        if self.validator is None:
            return self.error_response(404, message)
        # The description allows it but this sandbox does not play it: the test is relying on
        # behaviour nobody checked, so it is recorded as a violation and fails the test.
        with self._lock:
            self._violations.append(f"{request}: the sandbox has no route for it")
        return self.error_response(404, message)

    def _control(self, request: SandboxRequest) -> Response:
        command = request.path.removeprefix(CONTROL_PREFIX).strip("/")
        options = request.parsed_body if isinstance(request.parsed_body, dict) else {}
        if command == "state" and request.method == "GET":
            counters = {"request_count": self.request_count, "violations": self.violations}
            return 200, {}, {**counters, **self.control_state()}
        if command == "reset" and request.method == "POST":
            self.reset()
            return 200, {}, {"reset": True}
        if command == "faults" and request.method == "POST":
            if "fail_next" in options:
                self.fail_next(int(options["fail_next"]), status=int(options.get("status", 503)))
            if "delay" in options:
                self.delay(float(options["delay"]))
            return 200, {}, {"accepted": options}
        return 404, {}, {"error": f"unknown control command {request.method} {command!r}"}

    def control_state(self) -> dict[str, Any]:
        """Extra counters the `/__sandbox/state` endpoint reports; subclasses add theirs."""
        return {}

    def _send(self, http: _RequestHandler, response: Response) -> None:
        status, headers, body = response
        headers = dict(headers)
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            payload = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            payload = body or b""
        try:
            http.send_response(status)
            for name, value in headers.items():
                http.send_header(name, value)
            http.send_header("Content-Length", str(len(payload)))
            http.end_headers()
            if http.command != "HEAD":
                http.wfile.write(payload)
        except (ConnectionError, TimeoutError):
            http.close_connection = True


def run_from_command_line(
    factory: Callable[..., SandboxServer], argv: list[str] | None = None
) -> None:
    """`python -m tests.sandboxes.<provider> --port N`: serve until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description=f"Run {factory.__name__} on loopback.")
    parser.add_argument("--host", default="127.0.0.1", help="loopback only; default 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--max-recorded", type=int, default=1000, help="requests kept in memory")
    arguments = parser.parse_args(argv)
    if not arguments.host.startswith("127.") and arguments.host not in ("localhost", "::1"):
        parser.error("sandboxes listen on loopback only")
    sandbox = factory(
        host=arguments.host, port=arguments.port, max_recorded=arguments.max_recorded,
        control_endpoints=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    with sandbox:
        print(f"{factory.__name__} listening on {sandbox.url}", flush=True)
        stopped.wait()
