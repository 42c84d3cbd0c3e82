"""OIDC bearer tokens as Keycloak issues them: RS256 JWTs checked against the issuer's JWKS.

The key set is fetched once and cached; a token signed with an unknown `kid` triggers one
refetch (rate-limited), which is how a key rotation at the issuer is picked up.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import httpx
import jwt
from django.conf import settings

_MIN_REFETCH_INTERVAL = 10.0  # an attacker sending random kids must not make us hammer the issuer


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
        self._keys: dict[str, jwt.PyJWK] = {}
        self._url = ""
        self._fetched_at = 0.0

    def clear(self) -> None:
        with self._lock:
            self._keys, self._url, self._fetched_at = {}, "", 0.0

    def _fetch(self, url: str) -> None:
        try:
            response = httpx.get(url, timeout=5.0)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, json.JSONDecodeError, ValueError) as exc:
            raise TokenInvalid(f"cannot fetch the issuer's JWKS: {exc.__class__.__name__}") from exc
        keys = {}
        for jwk in document.get("keys", []):
            if jwk.get("kty") != "RSA" or "kid" not in jwk or jwk.get("use", "sig") != "sig":
                continue
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256")
            except jwt.PyJWTError:
                continue
        self._keys, self._url, self._fetched_at = keys, url, time.monotonic()

    def key_for(self, url: str, kid: str) -> jwt.PyJWK:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = self._url != url or age > settings.OIDC_JWKS_CACHE_SECONDS
            if stale or (kid not in self._keys and age > _MIN_REFETCH_INTERVAL):
                self._fetch(url)
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
    if not kid:
        raise TokenInvalid("token header has no kid")
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
    roles = (claims.get("realm_access") or {}).get("roles") or []
    if not isinstance(roles, list):
        roles = []
    return VerifiedToken(subject=str(claims["sub"]), tenant_ref=tenant_ref,
                         roles=tuple(r for r in roles if isinstance(r, str)), claims=claims)
