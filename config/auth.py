"""API authentication: tenant API keys and OIDC bearer tokens. Both yield a `Principal`
whose tenant comes from the credential, never from the request."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from rest_framework import authentication, exceptions, permissions

from config.oidc import TokenInvalid, verify_token
from config.scopes import grants

# A tenant slug or a tenant UUID. Anything else (a NUL byte, a 10 kB string) is refused
# before it reaches the database, which would otherwise answer with an error, not a miss.
_TENANT_REF = re.compile(r"[-a-zA-Z0-9_]{1,63}")


@dataclass(frozen=True)
class Principal:
    tenant: object
    scopes: tuple[str, ...]
    actor: str

    is_authenticated = True
    is_anonymous = False

    @property
    def pk(self) -> str:
        return self.actor


def _api_key_from_header(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "api-key" and value:
        return value.strip()
    if scheme.lower() == "bearer" and value.startswith("hub_"):
        return value.strip()
    return request.META.get("HTTP_X_API_KEY") or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        from integrations.services.tenancy import api_key_authenticate

        raw = _api_key_from_header(request)
        if raw is None:
            return None
        key = api_key_authenticate(raw_key=raw)
        if key is None:
            raise exceptions.AuthenticationFailed("API key is unknown or revoked")
        principal = Principal(tenant=key.tenant, scopes=tuple(key.scopes), actor=f"api-key/{key.prefix}")
        return principal, principal

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class OIDCAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        from integrations.models import Tenant

        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token or token.startswith("hub_"):
            return None
        try:
            verified = verify_token(token.strip())
        except TokenInvalid as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc
        if not _TENANT_REF.fullmatch(verified.tenant_ref):
            raise exceptions.AuthenticationFailed("token names an unknown tenant")
        tenant = Tenant.objects.filter(slug=verified.tenant_ref, is_active=True).first()
        if tenant is None:
            try:
                tenant = Tenant.objects.filter(pk=uuid.UUID(verified.tenant_ref), is_active=True).first()
            except ValueError:
                tenant = None
        if tenant is None:
            raise exceptions.AuthenticationFailed("token names an unknown tenant")
        scopes: list[str] = []
        for role in verified.roles:
            scopes.extend(settings.OIDC_ROLE_SCOPES.get(role, []))
        principal = Principal(tenant=tenant, scopes=tuple(scopes), actor=f"oidc:{verified.subject}")
        return principal, principal

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class HasTenantScope(permissions.BasePermission):
    """Views name their `scope_area`; safe methods need `<area>:read`, others `<area>:write`."""

    message = "the credential lacks the scope this endpoint needs"

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, Principal):
            return False
        area = getattr(view, "scope_area", None)
        if area is None:
            return True
        access = "read" if request.method in permissions.SAFE_METHODS else "write"
        required = f"{area}:{access}"
        if not grants(principal.scopes, required):
            self.message = f"this endpoint needs the '{required}' scope"
            return False
        return True
