"""SMS endpoints: send through a named provider or routed by country, list and detail."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from communication import selectors
from communication.models import DeliveryAttempt
from communication.serializers import (
    DeliveryAttemptOutput,
    ProviderSmsSendInput,
    SmsFilter,
    SmsOutput,
    SmsSendInput,
)
from communication.services.sms import sms_send
from config.api import TenantApi
from config.idempotency import idempotency_key_of, idempotent

# One scope for every SMS endpoint: a key names one SMS, whichever endpoint it was sent to.
SMS_IDEMPOTENCY_SCOPE = "communication:sms:send"


class SmsSendMixin:
    scope_area = "communication"
    provider: str | None = None
    input_serializer = SmsSendInput

    def send(self, request) -> Response:
        def handler() -> Response:
            data = self.input_serializer(data=request.data)
            data.is_valid(raise_exception=True)
            body = data.validated_data
            message = sms_send(
                tenant=self.tenant,
                provider=self.provider,
                config_id=body.get("config"),
                to=body["to"],
                body=body["body"],
                idempotency_key=idempotency_key_of(request),
            )
            return Response(SmsOutput(message).data, status=status.HTTP_202_ACCEPTED)

        return idempotent(request, scope=SMS_IDEMPOTENCY_SCOPE, tenant=self.tenant, handler=handler)


class SmsListSendApi(SmsSendMixin, TenantApi):
    """GET lists the tenant's SMS; POST sends one, routed: +46 by 46elks, the rest by Twilio."""

    @extend_schema(parameters=[SmsFilter], responses=SmsOutput(many=True))
    def get(self, request):
        filters = SmsFilter(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return self.paginate(
            selectors.sms_list(tenant=self.tenant, filters=filters.validated_data), SmsOutput
        )

    @extend_schema(request=SmsSendInput, responses={202: SmsOutput})
    def post(self, request):
        return self.send(request)


class ProviderSmsSendApi(SmsSendMixin, TenantApi):
    """POST sends through this provider: the named config or the tenant's active one."""

    input_serializer = ProviderSmsSendInput

    @extend_schema(request=ProviderSmsSendInput, responses={202: SmsOutput})
    def post(self, request):
        return self.send(request)


class SmsDetailApi(TenantApi):
    scope_area = "communication"

    @extend_schema(responses=SmsOutput)
    def get(self, request, pk):
        message = selectors.sms_get(tenant=self.tenant, message_id=pk)
        attempts = selectors.delivery_attempt_list(
            tenant=self.tenant, message_kind=DeliveryAttempt.Kind.SMS, message_id=message.pk
        )
        return Response(
            SmsOutput(message).data
            | {"delivery_attempts": DeliveryAttemptOutput(attempts, many=True).data}
        )
