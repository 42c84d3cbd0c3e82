"""Typed secret errors. Messages name the ref or the rule that failed, never a secret value."""
from __future__ import annotations

from integrations.errors import ApplicationError


class SecretRefInvalid(ApplicationError):
    """The text is not a well-formed secret ref (or uses a scheme this deployment refuses)."""

    status = 400
    code = "invalid_secret_ref"
    title = "Invalid secret ref"


class SecretNotFound(ApplicationError):
    """The ref is well formed but names no secret the tenant can see."""

    status = 400
    code = "secret_not_found"
    title = "Secret not found"


class SecretBackendUnavailable(ApplicationError):
    """The store behind the ref could not answer (network, credential, key or permission trouble)."""

    status = 503
    code = "secret_backend_unavailable"
    title = "Secret backend unavailable"
