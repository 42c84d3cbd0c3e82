"""API conventions shared by every app: problem+json errors, strict input, cursor pages,
tenant-scoped base views."""
from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, pagination, serializers
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from integrations.errors import ApplicationError

logger = logging.getLogger(__name__)
PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 406: "Not acceptable", 409: "Conflict", 413: "Payload too large",
           415: "Unsupported media type", 422: "Unprocessable content", 429: "Too many requests",
           500: "Internal server error", 503: "Service unavailable"}


def problem(status: int, detail: str, *, code: str = "error", title: str | None = None,
            errors: dict | None = None, extra: dict | None = None, headers: dict | None = None) -> Response:
    body = {"type": f"urn:hub:problem:{code}", "title": title or _TITLES.get(status, "Error"),
            "status": status, "detail": detail, "code": code}
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    response = Response(body, status=status, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _flatten_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {k: _flatten_leaf(v) for k, v in detail.items()}
    return {"non_field_errors": _flatten_leaf(detail)}


def _flatten_leaf(value):
    if isinstance(value, dict):
        return {k: _flatten_leaf(v) for k, v in value.items()}
    if isinstance(value, list):
        if all(isinstance(v, (str, exceptions.ErrorDetail)) for v in value):
            return [str(v) for v in value]
        return [_flatten_leaf(v) for v in value]
    return [str(value)]


def problem_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, ApplicationError):
        set_rollback()
        errors = exc.extra.get("errors")
        extra = {k: v for k, v in exc.extra.items() if k != "errors"}
        return problem(exc.status, exc.detail, code=exc.code, title=exc.title, errors=errors, extra=extra)

    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        errors = _flatten_errors(exc.detail)
        fields = ", ".join(sorted(errors))
        return problem(400, f"the request has invalid fields: {fields}", code="invalid", errors=errors)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem(exc.status_code, str(detail), code=exc.default_code, headers=headers)

    logger.exception("unhandled error in API view", extra={"view": context["view"].__class__.__name__})
    set_rollback()
    return problem(500, "an unexpected error occurred; it has been logged", code="server_error")


def problem_404(request, exception=None):
    return JsonResponse({"type": "urn:hub:problem:not_found", "title": "Not found", "status": 404,
                         "detail": "no such resource", "code": "not_found"},
                        status=404, content_type=PROBLEM_CONTENT_TYPE)


def problem_500(request):
    return JsonResponse({"type": "urn:hub:problem:server_error", "title": "Internal server error",
                         "status": 500, "detail": "an unexpected error occurred", "code": "server_error"},
                        status=500, content_type=PROBLEM_CONTENT_TYPE)


class CreatedCursorPagination(pagination.CursorPagination):
    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200


class StrictInputMixin:
    """Refuses unknown and read-only fields in the input instead of silently dropping them."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["expected a JSON object"]})
        writable = {name for name, field in self.fields.items() if not field.read_only}
        unknown = sorted(set(data) - writable)
        if unknown:
            raise exceptions.ValidationError({name: ["unknown field"] for name in unknown})
        return super().to_internal_value(data)


class StrictSerializer(StrictInputMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    pass


class TenantApi(APIView):
    """Base of every tenant API view: `self.tenant` is the credential's tenant."""

    scope_area: str | None = None

    @property
    def tenant(self):
        return self.request.user.tenant

    @property
    def actor(self) -> str:
        return self.request.user.actor

    def paginate(self, queryset, serializer_class):
        paginator = CreatedCursorPagination()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)
