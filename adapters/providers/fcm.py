"""Firebase Cloud Messaging (HTTP v1) through the official `firebase-admin` SDK.

Docs: https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages ,
https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode ,
https://firebase.google.com/docs/cloud-messaging/concept-options (message options per platform).
Checked against tests/sandboxes/specs/fcm-v1.json.

- Credentials are a service account JSON (resolved from `service_account_json_ref` at call
  time). google-auth, inside firebase-admin, trades a JWT signed with its key for an OAuth2
  access token at the account's `token_uri`; PROVIDER_FCM_TOKEN_URL replaces that URI.
- firebase-admin keeps Apps in a process-wide registry by name. One App per config and
  credential: named `hub-fcm-<config key>-<fingerprint>`, where the fingerprint covers the
  JSON, project and endpoints, so a rotated key or a moved endpoint gets a fresh App (and a
  fresh token) while the stale one is deleted.
- The send URL: firebase-admin 7.x builds it in `_MessagingService.__init__` from the class
  constant `FCM_URL` (`https://fcm.googleapis.com/v1/projects/{0}/messages:send`). Messaging
  has no option and no emulator variable for it (FIREBASE_*_EMULATOR_HOST cover Auth,
  Database, Firestore and Storage only). Rather than patching the class constant, which would
  move every App in the process, each App's own messaging service gets its `_fcm_url` set
  once, when we create the App, from PROVIDER_FCM_BASE_URL (default https://fcm.googleapis.com).
- Retries: firebase-admin mounts urllib3 retries (up to 4 on 500/503, with backoff) on its
  session. The hub's `call_provider` owns retries, backoff and the breaker, so the adapter
  mounts a no-retry adapter for the send URL's origin; otherwise one call could sleep for
  seconds and be retried again on top.
- The target is a registration token (`token`; firebase-admin 7 marks it deprecated in
  favour of Firebase installation ids, `fid`, but FCM v1 still takes the tokens client apps
  hold) or a topic.
- `data` values must be strings and the whole message at most 4096 bytes (FCM's limit). The
  hub's message id travels in `data["hub_message_id"]` so an app can drop a duplicate; FCM
  has no idempotency key. On iOS it is also the `apns-collapse-id` unless a collapse key is
  given, so a repeated send replaces the first notification instead of showing twice.
- Errors: UNREGISTERED, INVALID_ARGUMENT, SENDER_ID_MISMATCH and NOT_FOUND are permanent;
  UNAVAILABLE and INTERNAL retryable; QUOTA_EXCEEDED rate-limited with its Retry-After;
  401/403 an authentication failure of the service account.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import firebase_admin
import google.auth.exceptions
import requests
from firebase_admin import credentials, exceptions, messaging

from adapters.errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from adapters.http import parse_retry_after, provider_base_url, provider_token_url
from adapters.redaction import redact
from adapters.types import SendResult, ValidationResult

key = "fcm"
display_name = "Firebase Cloud Messaging"
DEFAULT_BASE_URL = "https://fcm.googleapis.com"
MAX_MESSAGE_BYTES = 4096
VALIDATION_TOPIC = "hub-validation"
REFERENCE_DATA_KEY = "hub_message_id"
_SEND_PATH = "/v1/projects/{project}/messages:send"
_ERROR_TEXT_LIMIT = 300


@dataclass(frozen=True)
class Config:
    service_account_json: str
    project_id: str
    app_key: str  # names the cached App: the config's id
    base_url: str = field(default_factory=lambda: provider_base_url("fcm", DEFAULT_BASE_URL))
    token_url: str = field(default_factory=lambda: provider_token_url("fcm", ""))
    timeout_seconds: float = 10.0

    def __repr__(self) -> str:  # the JSON holds a private key
        return f"Config(project_id={self.project_id!r}, app_key={self.app_key!r}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class OutboundPush:
    reference: str  # the hub's message id
    token: str = ""
    platform: str = ""  # android | ios | web; empty for a topic
    topic: str = ""
    title: str = ""
    body: str = ""
    image_url: str = ""
    data: dict = field(default_factory=dict)  # str -> str
    priority: str = "high"  # high | normal
    ttl_seconds: int | None = None
    collapse_key: str = ""
    badge_count: int | None = None
    sound: str = ""
    click_action: str = ""


def parse_service_account(text: str) -> dict:
    """The service account JSON as a dict; ValueError naming what is wrong (never its content)."""
    try:
        info = json.loads(text)
    except (TypeError, ValueError):
        raise ValueError("is not JSON") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError("is not a Google service account key (type must be 'service_account')")
    missing = [name for name in ("private_key", "client_email", "token_uri") if not info.get(name)]
    if missing:
        raise ValueError(f"lacks {', '.join(missing)}")
    return info


# --- the App cache -------------------------------------------------------------------------

_apps: dict[str, firebase_admin.App] = {}  # app_key -> its current App
_apps_lock = threading.Lock()


def _fingerprint(config: Config) -> str:
    material = json.dumps([config.service_account_json, config.project_id, config.base_url,
                           config.token_url, config.timeout_seconds])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _app_for(config: Config) -> firebase_admin.App:
    name = f"hub-fcm-{config.app_key}-{_fingerprint(config)}"
    current = _apps.get(config.app_key)
    if current is not None and current.name == name:
        return current
    with _apps_lock:
        current = _apps.get(config.app_key)
        if current is not None and current.name == name:
            return current
        app = _initialise_app(config, name)
        _apps[config.app_key] = app
        if current is not None:
            firebase_admin.delete_app(current)  # a rotated key or moved endpoint: drop the old App
        return app


def _initialise_app(config: Config, name: str) -> firebase_admin.App:
    try:
        info = parse_service_account(config.service_account_json)
    except ValueError as exc:
        raise ProviderAuthFailed(f"the FCM service account JSON {exc}", provider=key,
                                 code="invalid_service_account") from None
    if config.token_url:
        info = {**info, "token_uri": config.token_url}
    try:
        credential = credentials.Certificate(info)
    except ValueError:
        raise ProviderAuthFailed("the FCM service account key cannot be loaded", provider=key,
                                 code="invalid_service_account") from None
    if config.base_url.rstrip("/") != DEFAULT_BASE_URL or config.token_url:
        _pin_no_op_access_boundary(credential.get_credential())
    app = firebase_admin.initialize_app(
        credential, options={"projectId": config.project_id, "httpTimeout": config.timeout_seconds}, name=name)
    service = messaging._get_messaging_service(app)
    base = config.base_url.rstrip("/")
    service._fcm_url = base + _SEND_PATH.format(project=config.project_id)
    service._client.session.mount(base, requests.adapters.HTTPAdapter(pool_maxsize=100, max_retries=0))
    return app


def _pin_no_op_access_boundary(google_credential) -> None:
    """After each token refresh google-auth (2.62+) looks up the account's Regional Access
    Boundary at iamcredentials.googleapis.com, in a background thread. With FCM's endpoints
    overridden (a sandbox, a proxy) that call would still leave for Google, so the credential
    gets google-auth's no-op boundary ("0x0", no restriction) pinned, which it never refreshes.
    `_set_regional_access_boundary` is the hook google-auth keeps stable for the gcloud CLI."""
    pin = getattr(google_credential, "_set_regional_access_boundary", None)
    if pin is not None:
        pin({"encodedLocations": "0x0", "expiry": datetime(9999, 1, 1)})


def apps_clear() -> None:
    """Delete every App this module created (tests; a process that rotates all keys)."""
    with _apps_lock:
        for app in _apps.values():
            firebase_admin.delete_app(app)
        _apps.clear()


# --- messages -------------------------------------------------------------------------------

def build_message(push: OutboundPush) -> messaging.Message:
    data = {**push.data, REFERENCE_DATA_KEY: push.reference}
    notification = None
    if push.title or push.body or push.image_url:
        notification = messaging.Notification(title=push.title or None, body=push.body or None,
                                              image=push.image_url or None)
    high = push.priority != "normal"
    ttl = timedelta(seconds=push.ttl_seconds) if push.ttl_seconds is not None else None
    android = messaging.AndroidConfig(
        priority="high" if high else "normal", ttl=ttl, collapse_key=push.collapse_key or None,
        notification=(messaging.AndroidNotification(click_action=push.click_action or None,
                                                    sound=push.sound or None)
                      if push.click_action or push.sound else None))
    apns_headers = {"apns-priority": "10" if high else "5",
                    "apns-collapse-id": (push.collapse_key or push.reference)[:64]}
    if push.ttl_seconds is not None:
        apns_headers["apns-expiration"] = str(int(time.time()) + push.ttl_seconds)
    apns = messaging.APNSConfig(headers=apns_headers, payload=messaging.APNSPayload(aps=messaging.Aps(
        badge=push.badge_count, sound=push.sound or None, category=push.click_action or None)))
    webpush_headers = {"Urgency": "high" if high else "normal"}
    if push.ttl_seconds is not None:
        webpush_headers["TTL"] = str(push.ttl_seconds)
    # FCM only takes an https link for web push clicks; other click actions are app-defined.
    link = push.click_action if push.click_action.startswith("https://") else None
    webpush = messaging.WebpushConfig(headers=webpush_headers,
                                      fcm_options=messaging.WebpushFCMOptions(link=link) if link else None)
    platforms = {"android": {"android": android}, "ios": {"apns": apns}, "web": {"webpush": webpush}}
    # A topic reaches every platform subscribed to it; a token is one device of one platform.
    options = (platforms.get(push.platform) if push.token else None) or {
        "android": android, "apns": apns, "webpush": webpush}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Message.token, see the docstring
        return messaging.Message(token=push.token or None, topic=push.topic or None, data=data,
                                 notification=notification, **options)


def message_size(push: OutboundPush) -> int:
    """Bytes of the message as sent; FCM refuses one over MAX_MESSAGE_BYTES."""
    encoded = messaging._MessagingService.encode_message(build_message(push))
    return len(json.dumps(encoded, separators=(",", ":")).encode())


def send_push(config: Config, push: OutboundPush, *, dry_run: bool = False) -> SendResult:
    app = _app_for(config)
    try:
        message = build_message(push)
    except ValueError as exc:  # firebase-admin's own checks (a malformed field)
        raise ProviderRejected(f"FCM message refused before sending: {exc}", provider=key,
                               code="invalid_message") from None
    name = _call(lambda: messaging.send(message, dry_run=dry_run, app=app))
    return SendResult(provider_message_id=name, details={"dry_run": True} if dry_run else {})


def validate(config: Config) -> ValidationResult:
    probe = OutboundPush(reference="validation", topic=VALIDATION_TOPIC, data={"probe": "1"})
    send_push(config, probe, dry_run=True)
    return ValidationResult(
        message=f"authenticated with Firebase project {config.project_id}; a dry-run send was accepted",
        details={"project_id": config.project_id})


# --- errors -----------------------------------------------------------------------------------

_FCM_ERROR_CODES = (
    (messaging.UnregisteredError, "UNREGISTERED"),
    (messaging.QuotaExceededError, "QUOTA_EXCEEDED"),
    (messaging.SenderIdMismatchError, "SENDER_ID_MISMATCH"),
    (messaging.ThirdPartyAuthError, "THIRD_PARTY_AUTH_ERROR"),
)
_PERMANENT = frozenset({"UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH", "NOT_FOUND",
                        "FAILED_PRECONDITION", "OUT_OF_RANGE", "ALREADY_EXISTS",
                        # The project's APNs / web push credentials in Firebase are wrong: a
                        # platform refuses, our service account is fine.
                        "THIRD_PARTY_AUTH_ERROR"})
_RATE_LIMITED = frozenset({"QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"})
_AUTH = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})


def _call(fn):
    try:
        return fn()
    except exceptions.FirebaseError as exc:
        raise translate(exc) from None
    except google.auth.exceptions.RefreshError as exc:
        # The token endpoint refused the service account's JWT (invalid_grant: wrong key,
        # deleted account) or failed; google-auth says which through `retryable`.
        if getattr(exc, "retryable", False):
            raise ProviderUnavailable("FCM: the OAuth token endpoint failed", provider=key,
                                      code="token_unavailable") from None
        raise ProviderAuthFailed(f"FCM: the OAuth token endpoint refused the service account: "
                                 f"{_text(exc.args[0] if exc.args else '')}", provider=key,
                                 code="token_refused") from None
    except google.auth.exceptions.TransportError:
        raise ProviderUnavailable("FCM: the OAuth token endpoint could not be reached", provider=key,
                                  code="token_unavailable") from None


def fcm_error_code(exc: exceptions.FirebaseError) -> str:
    for error_class, code in _FCM_ERROR_CODES:
        if isinstance(exc, error_class):
            return code
    return str(exc.code or "UNKNOWN")


def translate(exc: exceptions.FirebaseError) -> ProviderError:
    code = fcm_error_code(exc)
    response = exc.http_response
    status = response.status_code if response is not None else None
    retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
    message = f"FCM answered {status or 'no response'} ({code}): {_text(str(exc))}"
    if code in _RATE_LIMITED:
        return ProviderRateLimited(message, provider=key, status_code=status, retry_after=retry_after, code=code)
    if code in _PERMANENT:  # before the status check: SENDER_ID_MISMATCH is a 403
        return ProviderRejected(message, provider=key, status_code=status, code=code)
    if code in _AUTH or status in (401, 403):
        return ProviderAuthFailed(message, provider=key, status_code=status, code=code)
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return ProviderRejected(message, provider=key, status_code=status, code=code)
    # UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, UNKNOWN (no answer at all): worth another try.
    return ProviderUnavailable(message, provider=key, status_code=status, retry_after=retry_after, code=code)


def _text(value: object) -> str:
    return redact(str(value))[:_ERROR_TEXT_LIMIT]
