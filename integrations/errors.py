"""The application's error root. `config.api` renders each as application/problem+json."""
from __future__ import annotations


class ApplicationError(Exception):
    status = 400
    code = "invalid"
    title = "Bad request"

    def __init__(self, detail: str, *, status: int | None = None, code: str | None = None,
                 extra: dict | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.extra = extra or {}


class NotFound(ApplicationError):
    status = 404
    code = "not_found"
    title = "Not found"


class InvalidTransition(ApplicationError):
    status = 409
    code = "invalid_transition"
    title = "Transition not allowed"


class ValidationFailed(ApplicationError):
    status = 409
    code = "validation_required"
    title = "Validation required"


class IdempotencyConflict(ApplicationError):
    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused with another body"


class IdempotencyInFlight(ApplicationError):
    status = 409
    code = "idempotency_key_in_flight"
    title = "A request with this idempotency key is still in flight"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"
    title = "Conflict"
