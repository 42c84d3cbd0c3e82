"""processWebhookEvent: a provider's event handed in by the tenant's own relay, authenticated
by the API credential instead of a provider signature (Fortnox's WebSocket notifications, a
CRM plugin's message). It goes through the webhooks framework like a signed delivery: parsed
by the provider's module, stored once per event id, echoes of our own writes ignored,
handlers run after commit."""
from __future__ import annotations

import json

from django.db import DataError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from adapters.inbound import InboundRequest, MalformedPayload, VerificationSecrets
from adapters.providers import WEBHOOK_PROVIDERS
from config.api import StrictSerializer
from integrations.errors import ApplicationError
from integrations.selectors.integrations import integration_get
from sync.apis.runs import SyncApi
from webhooks.receivers import Receiver
from webhooks.services.inbound import inbound_events_store


class WebhookEventApi(SyncApi):
    class WebhookEventInputSerializer(StrictSerializer):
        source = serializers.UUIDField(help_text="The integration the event belongs to.")
        payload = serializers.JSONField(help_text="The provider's event body, exactly as the provider sent it.")

    @extend_schema(request=WebhookEventInputSerializer, responses={202: OpenApiTypes.OBJECT})
    def post(self, request):
        body = self.WebhookEventInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        integration = integration_get(tenant=self.tenant, integration_id=body.validated_data["source"])
        module = WEBHOOK_PROVIDERS.get(integration.provider)
        if module is None:
            raise ApplicationError(f"{integration.provider} events cannot be processed",
                                   extra={"errors": {"source": ["this provider sends no events the hub reads"]}})
        raw = json.dumps(body.validated_data["payload"]).encode()
        inbound = InboundRequest(method="POST", url=request.build_absolute_uri(), body=raw,
                                 headers={"Content-Type": "application/json"})
        try:
            events = module.parse(inbound)
        except (MalformedPayload, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ApplicationError(f"the payload is not a {integration.provider} event: {exc}",
                                   extra={"errors": {"payload": [str(exc)[:300]]}}) from None
        receiver = Receiver(integration_id=integration.pk, tenant_id=integration.tenant_id,
                            provider=integration.provider, secrets=VerificationSecrets())
        try:
            result = inbound_events_store(receiver=receiver, events=events)
        except DataError:  # a value the database refuses (a NUL in jsonb): never storable as sent
            raise ApplicationError("the payload cannot be stored as sent",
                                   extra={"errors": {"payload": ["contains values that cannot be stored"]}}) from None
        return Response({"stored": len(result.new_ids), "duplicates": result.duplicates,
                         "event_ids": [str(event_id) for event_id in result.new_ids]},
                        status=status.HTTP_202_ACCEPTED)
