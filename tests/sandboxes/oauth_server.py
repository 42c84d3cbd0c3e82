"""OAuthServer: a generic OAuth 2.0 authorization server on loopback, for connect-flow tests.

Plays what Google, Microsoft, Facebook, X, Twitch, Xero, QuickBooks and Visma do in the
authorization-code flow (RFC 6749 §4.1) with PKCE (RFC 7636), configured per provider:

- `GET /authorize`: checks response_type=code, the client id, a redirect_uri on the client's
  registered list, a state, and (when `pkce_required`) an S256 code_challenge. With
  `approval="auto"` it answers 302 straight back to redirect_uri with `code` and `state`
  (what a provider does for a user who consented before); with `approval="button"` it shows a
  consent page whose "Allow" / "Deny" buttons POST to `/authorize/decision`. `deny_next()`
  makes the next authorization come back with `error=access_denied`. Problems with the
  request itself are shown as an error page, never redirected (RFC 6749 §4.1.2.1).
- `POST /token`: authenticates the client the provider's way (`client_secret_basic` or
  `client_secret_post`; wrong → 401 invalid_client), exchanges a code once (same
  redirect_uri, a verifier matching the challenge, else 400 invalid_grant), and refreshes:
  with `rotate_refresh_tokens` every refresh issues a new refresh token and voids the old one
  (Fortnox, Xero, QuickBooks, X do). `revoke_all_grants()` makes every refresh invalid_grant.
  `issue_refresh_tokens=False` plays Facebook (no refresh token), `scope_as_list` Twitch.
- `GET /me`: a protected resource answering 200 to a live access token, 401 otherwise, so
  tests can prove a token the hub hands out actually works.

Run it alone with `python -m tests.sandboxes.oauth_server --port N`.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from html import escape
from typing import Literal
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_CLIENT_ID = "hub-client-0001"
DEFAULT_CLIENT_SECRET = "hub-client-secret-0123456789abcdef"


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: float = field(default_factory=time.time)
    used: bool = False


class OAuthServer(SandboxServer):
    def __init__(self, *, client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET,
                 redirect_uris: tuple[str, ...] = (),
                 client_auth: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic",
                 pkce_required: bool = True, approval: Literal["auto", "button"] = "auto",
                 access_token_lifetime: int = 3600, rotate_refresh_tokens: bool = True,
                 issue_refresh_tokens: bool = True, scope_as_list: bool = False, code_lifetime: int = 600,
                 **options) -> None:
        super().__init__(**options)
        self.client_id, self.client_secret = client_id, client_secret
        # Empty: any redirect_uri is accepted (but it must still match at the token endpoint).
        self.redirect_uris = list(redirect_uris)
        self.client_auth, self.pkce_required, self.approval = client_auth, pkce_required, approval
        self.access_token_lifetime, self.code_lifetime = access_token_lifetime, code_lifetime
        self.rotate_refresh_tokens, self.issue_refresh_tokens = rotate_refresh_tokens, issue_refresh_tokens
        self.scope_as_list = scope_as_list
        self._state_lock = threading.Lock()
        self._codes: dict[str, _Grant] = {}
        self._access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self._refresh_tokens: dict[str, str] = {}  # live refresh token -> scope
        self._deny_next = False
        self.token_requests: list[dict] = []  # grant_type and outcome of each token call, for assertions
        self.add_route("GET", "/authorize", self._authorize)
        self.add_route("POST", "/authorize/decision", self._decision)
        self.add_route("POST", "/token", self._token)
        self.add_route("GET", "/me", self._me)

    # what tests use ---------------------------------------------------------------------------

    @property
    def authorize_url(self) -> str:
        return f"{self.url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def deny_next(self) -> None:
        with self._state_lock:
            self._deny_next = True

    def revoke_all_grants(self) -> None:
        """The user revoked the app (or an admin did): every refresh now fails invalid_grant."""
        with self._state_lock:
            self._refresh_tokens.clear()
            self._access_tokens.clear()

    def expire_access_tokens(self) -> None:
        with self._state_lock:
            self._access_tokens = dict.fromkeys(self._access_tokens, 0.0)

    def live_refresh_tokens(self) -> set[str]:
        with self._state_lock:
            return set(self._refresh_tokens)

    def access_token_is_live(self, token: str) -> bool:
        with self._state_lock:
            return self._access_tokens.get(token, 0.0) > time.time()

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self._codes.clear()
            self._access_tokens.clear()
            self._refresh_tokens.clear()
            self._deny_next = False
            self.token_requests.clear()

    def error_response(self, status: int, message: str) -> Response:
        return status, {"Cache-Control": "no-store"}, {"error": "server_error" if status >= 500 else "invalid_request",
                                                       "error_description": message}

    # authorize --------------------------------------------------------------------------------

    def _authorize(self, request: SandboxRequest) -> Response:
        params = {name: values[0] for name, values in request.query.items()}
        problem = self._authorize_problem(params)
        if problem:
            return 400, {"Content-Type": "text/html; charset=utf-8"}, _page("Authorization error", escape(problem))
        if self.approval == "auto":
            return self._grant(params, allowed=True)
        hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items())
        body = (f"<p>The application <b>{escape(params['client_id'])}</b> asks for access to: "
                f"<code>{escape(params.get('scope', ''))}</code></p>"
                f'<form method="post" action="/authorize/decision">{hidden}'
                '<button type="submit" name="decision" value="allow" id="allow">Allow</button> '
                '<button type="submit" name="decision" value="deny" id="deny">Deny</button></form>')
        return 200, {"Content-Type": "text/html; charset=utf-8"}, _page("Authorize access", body)

    def _decision(self, request: SandboxRequest) -> Response:
        params = {name: values[0] for name, values in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        decision = params.pop("decision", "")
        problem = self._authorize_problem(params)
        if problem:
            return 400, {"Content-Type": "text/html; charset=utf-8"}, _page("Authorization error", escape(problem))
        return self._grant(params, allowed=decision == "allow")

    def _authorize_problem(self, params: dict[str, str]) -> str | None:
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("client_id") != self.client_id:
            return "unknown client_id"
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or (self.redirect_uris and redirect_uri not in self.redirect_uris):
            return "redirect_uri is not registered for this client"
        if not params.get("state"):
            return "state is required"
        if self.pkce_required and (not params.get("code_challenge") or params.get("code_challenge_method") != "S256"):
            return "code_challenge with code_challenge_method=S256 is required"
        return None

    def _grant(self, params: dict[str, str], *, allowed: bool) -> Response:
        with self._state_lock:
            denied, self._deny_next = self._deny_next or not allowed, False
        if denied:
            answer = {"error": "access_denied", "error_description": "The user denied access", "state": params["state"]}
        else:
            code = secrets.token_urlsafe(24)
            with self._state_lock:
                self._codes[code] = _Grant(client_id=params["client_id"], redirect_uri=params["redirect_uri"],
                                           scope=params.get("scope", ""),
                                           code_challenge=params.get("code_challenge"),
                                           code_challenge_method=params.get("code_challenge_method"))
            answer = {"code": code, "state": params["state"]}
        target = urlsplit(params["redirect_uri"])
        query = "&".join(part for part in (target.query, urlencode(answer)) if part)
        return 302, {"Location": urlunsplit((target.scheme, target.netloc, target.path, query, ""))}, b""

    # token ------------------------------------------------------------------------------------

    def _token(self, request: SandboxRequest) -> Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
        form = {name: values[0] for name, values in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        if not self._client_authenticated(request, form):
            self.token_requests.append({"grant_type": form.get("grant_type"), "outcome": "invalid_client"})
            return _oauth_error(401, "invalid_client", "client authentication failed",
                                headers={"WWW-Authenticate": 'Basic realm="token"'})
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            answer = self._exchange(form)
        elif grant_type == "refresh_token":
            answer = self._refresh(form)
        else:
            answer = _oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        body = answer[2]
        self.token_requests.append({"grant_type": grant_type, "outcome": body.get("error", "issued")})
        return answer

    def _client_authenticated(self, request: SandboxRequest, form: dict[str, str]) -> bool:
        if self.client_auth == "client_secret_basic":
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "basic" or "client_secret" in form:
                return False
            try:
                client_id, _, secret = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return False
        else:
            if "authorization" in request.headers:
                return False
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return secrets.compare_digest(client_id, self.client_id) and secrets.compare_digest(secret,
                                                                                             self.client_secret)

    def _exchange(self, form: dict[str, str]) -> Response:
        with self._state_lock:
            grant = self._codes.get(form.get("code", ""))
            if grant is None or grant.used or time.time() - grant.issued_at > self.code_lifetime:
                return _oauth_error(400, "invalid_grant", "the authorization code is invalid, used or expired")
            grant.used = True  # single use, even when the rest of this request is wrong (RFC 6749 §4.1.2)
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "invalid_grant", "redirect_uri does not match the authorization request")
        if grant.code_challenge:
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not verifier or not secrets.compare_digest(digest, grant.code_challenge):
                return _oauth_error(400, "invalid_grant", "PKCE verification failed")
        return self._issue(grant.scope, refresh=self.issue_refresh_tokens)

    def _refresh(self, form: dict[str, str]) -> Response:
        token = form.get("refresh_token", "")
        with self._state_lock:
            scope = self._refresh_tokens.get(token)
            if scope is None:
                return _oauth_error(400, "invalid_grant", "the refresh token is invalid, expired or revoked")
            if self.rotate_refresh_tokens:
                del self._refresh_tokens[token]
        return self._issue(scope, refresh=self.rotate_refresh_tokens)

    def _issue(self, scope: str, *, refresh: bool) -> Response:
        access = secrets.token_urlsafe(32)
        body: dict = {"access_token": access, "token_type": "bearer", "expires_in": self.access_token_lifetime,
                      "scope": scope.split() if self.scope_as_list else scope}
        with self._state_lock:
            self._access_tokens[access] = time.time() + self.access_token_lifetime
            if refresh:
                body["refresh_token"] = secrets.token_urlsafe(32)
                self._refresh_tokens[body["refresh_token"]] = scope
        return 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}, body

    # protected resource -----------------------------------------------------------------------

    def _me(self, request: SandboxRequest) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self.access_token_is_live(token):
            return _oauth_error(401, "invalid_token", "the access token is invalid or expired",
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return 200, {}, {"client_id": self.client_id}


def _oauth_error(status: int, error: str, description: str, *, headers: dict | None = None) -> Response:
    return status, {"Cache-Control": "no-store", **(headers or {})}, {"error": error, "error_description": description}


def _page(title: str, body_html: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
            f"<body style='font-family:sans-serif;margin:3rem'><h1>{escape(title)}</h1>{body_html}</body></html>")


if __name__ == "__main__":
    run_from_command_line(OAuthServer)
