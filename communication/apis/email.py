"""Email endpoints: send through a named provider or by routing, list and detail."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from communication import selectors
from communication.models import DeliveryAttempt
from communication.serializers import (
    DeliveryAttemptOutput,
    EmailFilter,
    EmailOutput,
    EmailSendInput,
    ProviderEmailSendInput,
)
from communication.services.email import email_send
from config.api import TenantApi
from config.idempotency import idempotency_key_of, idempotent

# One scope for every email endpoint: a key names one email, whichever endpoint it was sent to.
EMAIL_IDEMPOTENCY_SCOPE = "communication:email:send"


class EmailSendMixin:
    scope_area = "communication"
    provider: str | None = None
    input_serializer = EmailSendInput

    def send(self, request) -> Response:
        def handler() -> Response:
            data = self.input_serializer(data=request.data)
            data.is_valid(raise_exception=True)
            body = data.validated_data
            message = email_send(
                tenant=self.tenant,
                provider=self.provider,
                config_id=body.get("config"),
                to=body["to"],
                subject=body["subject"],
                template_id=body["template_id"],
                template_data=body.get("template_data"),
                body_text=body["body_text"],
                body_html=body["body_html"],
                idempotency_key=idempotency_key_of(request),
            )
            return Response(EmailOutput(message).data, status=status.HTTP_202_ACCEPTED)

        return idempotent(
            request, scope=EMAIL_IDEMPOTENCY_SCOPE, tenant=self.tenant, handler=handler
        )


class EmailListSendApi(EmailSendMixin, TenantApi):
    """GET lists the tenant's emails; POST sends one, routed: SendGrid, then Mailgun."""

    @extend_schema(parameters=[EmailFilter], responses=EmailOutput(many=True))
    def get(self, request):
        filters = EmailFilter(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return self.paginate(
            selectors.email_list(tenant=self.tenant, filters=filters.validated_data), EmailOutput
        )

    @extend_schema(request=EmailSendInput, responses={202: EmailOutput})
    def post(self, request):
        return self.send(request)


class ProviderEmailSendApi(EmailSendMixin, TenantApi):
    """POST sends through this provider: the named config or the tenant's active one."""

    input_serializer = ProviderEmailSendInput

    @extend_schema(request=ProviderEmailSendInput, responses={202: EmailOutput})
    def post(self, request):
        return self.send(request)


class EmailDetailApi(TenantApi):
    scope_area = "communication"

    @extend_schema(responses=EmailOutput)
    def get(self, request, pk):
        message = selectors.email_get(tenant=self.tenant, message_id=pk)
        attempts = selectors.delivery_attempt_list(
            tenant=self.tenant, message_kind=DeliveryAttempt.Kind.EMAIL, message_id=message.pk
        )
        return Response(
            EmailOutput(message).data
            | {"delivery_attempts": DeliveryAttemptOutput(attempts, many=True).data}
        )
