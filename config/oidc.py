"""OIDC bearer tokens as Keycloak issues them: RS256 JWTs checked against the issuer's JWKS.

The key set is fetched once and cached; a token signed with an unknown `kid` triggers one
refetch (rate-limited), which is how a key rotation at the issuer is picked up.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass

import httpx
import jwt
from django.conf import settings

logger = logging.getLogger(__name__)

# An attacker sending random kids must not make us hammer the issuer: at most one JWKS
# request per interval, counting failed attempts too.
MIN_REFETCH_INTERVAL_SECONDS = 10.0
# Module attribute rather than a direct time.monotonic() call so tests can drive the rate
# limit with a fake clock instead of sleeping.
clock = time.monotonic


class TokenInvalid(Exception):
    pass


@dataclass(frozen=True)
class VerifiedToken:
    subject: str
    tenant_ref: str
    roles: tuple[str, ...]
    claims: dict


class JwksCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def clear(self) -> None:
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self._keys: dict[str, jwt.PyJWK] = {}
        self._url = ""
        # None means "never": a monotonic clock may read less than the refetch interval
        # shortly after boot, so 0.0 would wrongly look like a recent fetch.
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None

    def _fetch(self, url: str) -> dict[str, jwt.PyJWK]:
        try:
            response = httpx.get(url, timeout=5.0)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, json.JSONDecodeError, ValueError) as exc:
            raise TokenInvalid(f"cannot fetch the issuer's JWKS: {exc.__class__.__name__}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise TokenInvalid("the issuer's JWKS is not a key set")
        keys = {}
        for jwk in document["keys"]:
            if (not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str)
                    or jwk.get("use", "sig") != "sig"):
                continue
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256")
            except jwt.PyJWTError:
                continue
        return keys

    def key_for(self, url: str, kid: str) -> jwt.PyJWK:
        with self._lock:
            if self._url != url:
                self._reset()
                self._url = url
            now = clock()
            expired = self._fetched_at is None or now - self._fetched_at > settings.OIDC_JWKS_CACHE_SECONDS
            may_fetch = (self._attempted_at is None
                         or now - self._attempted_at >= MIN_REFETCH_INTERVAL_SECONDS)
            if may_fetch and (expired or kid not in self._keys):
                self._attempted_at = now
                try:
                    self._keys, self._fetched_at = self._fetch(url), now
                except TokenInvalid as exc:
                    # Keep serving the last good key set while the issuer is unreachable.
                    logger.warning("JWKS refresh failed", extra={"jwks_url": url, "error": str(exc)})
                    if not self._keys:
                        raise
            key = self._keys.get(kid)
        if key is None:
            raise TokenInvalid(f"unknown signing key id '{kid}'")
        return key


jwks_cache = JwksCache()


def jwks_url() -> str:
    return settings.OIDC_JWKS_URL or settings.OIDC_ISSUER.rstrip("/") + "/protocol/openid-connect/certs"


def verify_token(token: str) -> VerifiedToken:
    if not settings.OIDC_ISSUER:
        raise TokenInvalid("OIDC is not configured")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenInvalid("malformed token") from exc
    if header.get("alg") != "RS256":
        raise TokenInvalid("token must be signed with RS256")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenInvalid("token header has no kid")  # a non-string kid would break the key lookup
    key = jwks_cache.key_for(jwks_url(), kid)
    try:
        claims = jwt.decode(
            token, key=key.key, algorithms=["RS256"], audience=settings.OIDC_AUDIENCE,
            issuer=settings.OIDC_ISSUER, leeway=settings.OIDC_LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenInvalid("token has expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenInvalid("token audience is not this service") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenInvalid("token issuer is not trusted") from exc
    except jwt.PyJWTError as exc:
        raise TokenInvalid(f"token rejected: {exc}") from exc
    tenant_ref = claims.get(settings.OIDC_TENANT_CLAIM)
    if not isinstance(tenant_ref, str) or not tenant_ref:
        raise TokenInvalid(f"token has no '{settings.OIDC_TENANT_CLAIM}' claim")
    realm_access = claims.get("realm_access")
    roles = realm_access.get("roles") if isinstance(realm_access, dict) else None
    if not isinstance(roles, list):
        roles = []  # a malformed role claim grants nothing rather than failing the request
    return VerifiedToken(subject=str(claims["sub"]), tenant_ref=tenant_ref,
                         roles=tuple(r for r in roles if isinstance(r, str)), claims=claims)
