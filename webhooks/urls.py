"""`/api/v1/webhooks/`: inbound events, outbound endpoints and their deliveries."""
from django.urls import path

from webhooks.apis.endpoints import (
    DeliveryDetailApi,
    DeliveryReplayApi,
    EndpointDeliveryListApi,
    EndpointDetailApi,
    EndpointListCreateApi,
    EndpointReplayFailedApi,
    EndpointRotateSecretApi,
    EndpointTestApi,
)
from webhooks.apis.events import InboundEventDetailApi, InboundEventListApi, InboundEventReplayApi

urlpatterns = [
    path("events/", InboundEventListApi.as_view(), name="webhook-event-list"),
    path("events/<uuid:pk>/", InboundEventDetailApi.as_view(), name="webhook-event-detail"),
    path("events/<uuid:pk>/replay/", InboundEventReplayApi.as_view(), name="webhook-event-replay"),
    path("endpoints/", EndpointListCreateApi.as_view(), name="webhook-endpoint-list"),
    path("endpoints/<uuid:pk>/", EndpointDetailApi.as_view(), name="webhook-endpoint-detail"),
    path("endpoints/<uuid:pk>/rotate-secret/", EndpointRotateSecretApi.as_view(), name="webhook-endpoint-rotate"),
    path("endpoints/<uuid:pk>/test/", EndpointTestApi.as_view(), name="webhook-endpoint-test"),
    path("endpoints/<uuid:pk>/deliveries/", EndpointDeliveryListApi.as_view(), name="webhook-endpoint-deliveries"),
    path("endpoints/<uuid:pk>/replay-failed/", EndpointReplayFailedApi.as_view(),
         name="webhook-endpoint-replay-failed"),
    path("deliveries/<uuid:pk>/", DeliveryDetailApi.as_view(), name="webhook-delivery-detail"),
    path("deliveries/<uuid:pk>/replay/", DeliveryReplayApi.as_view(), name="webhook-delivery-replay"),
]
