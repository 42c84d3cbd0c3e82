"""Routes under /api/v1/iot/: the court registry, operations, and the Ziggy configs (the
access-control family on the generic integration views, scoped `iot`)."""
from django.urls import path

from integrations.apis.families import (
    IntegrationActionApi,
    IntegrationDetailApi,
    IntegrationListCreateApi,
    IntegrationTransitionsApi,
    IntegrationUsageApi,
    IntegrationValidateApi,
)
from integrations.lifecycle import USER_ACTIONS
from iot.apis.operations import (
    ClipDetailApi,
    ClipListApi,
    LiveStreamCompleteApi,
    LiveStreamDetailApi,
    LiveStreamListCreateApi,
    SessionAtZiggyApi,
    SessionCheckoutApi,
    SessionConsumptionApi,
    SessionDetailApi,
    SessionListApi,
)
from iot.apis.registry import (
    CourtDetailApi,
    CourtListCreateApi,
    DeviceDetailApi,
    DeviceListCreateApi,
    MemberDetailApi,
    MemberListCreateApi,
)
from iot.families import FAMILY

urlpatterns = [
    path("members/", MemberListCreateApi.as_view(), name="iot-member-list"),
    path("members/<uuid:pk>/", MemberDetailApi.as_view(), name="iot-member-detail"),
    path("courts/", CourtListCreateApi.as_view(), name="iot-court-list"),
    path("courts/<uuid:pk>/", CourtDetailApi.as_view(), name="iot-court-detail"),
    path("devices/", DeviceListCreateApi.as_view(), name="iot-device-list"),
    path("devices/<uuid:pk>/", DeviceDetailApi.as_view(), name="iot-device-detail"),
    path("sessions/", SessionListApi.as_view(), name="iot-session-list"),
    path("sessions/<uuid:pk>/", SessionDetailApi.as_view(), name="iot-session-detail"),
    path("sessions/<uuid:pk>/checkout/", SessionCheckoutApi.as_view(), name="iot-session-checkout"),
    path("sessions/<uuid:pk>/consumption/", SessionConsumptionApi.as_view(), name="iot-session-consumption"),
    path("sessions/<uuid:pk>/ziggy/", SessionAtZiggyApi.as_view(), name="iot-session-at-ziggy"),
    path("clips/", ClipListApi.as_view(), name="iot-clip-list"),
    path("clips/<uuid:pk>/", ClipDetailApi.as_view(), name="iot-clip-detail"),
    path("live-streams/", LiveStreamListCreateApi.as_view(), name="iot-live-stream-list"),
    path("live-streams/<uuid:pk>/", LiveStreamDetailApi.as_view(), name="iot-live-stream-detail"),
    path("live-streams/<uuid:pk>/complete/", LiveStreamCompleteApi.as_view(), name="iot-live-stream-complete"),
]

_ziggy = {"family": FAMILY, "scope_area": "iot"}
_base = "ziggy/configs/"
urlpatterns += [
    path(_base, IntegrationListCreateApi.as_view(**_ziggy), name="iot-ziggy-config-list"),
    path(f"{_base}<uuid:pk>/", IntegrationDetailApi.as_view(**_ziggy), name="iot-ziggy-config-detail"),
    path(f"{_base}<uuid:pk>/validate/", IntegrationValidateApi.as_view(**_ziggy), name="iot-ziggy-config-validate"),
    path(f"{_base}<uuid:pk>/usage/", IntegrationUsageApi.as_view(**_ziggy), name="iot-ziggy-config-usage"),
    path(f"{_base}<uuid:pk>/transitions/", IntegrationTransitionsApi.as_view(**_ziggy),
         name="iot-ziggy-config-transitions"),
] + [
    path(f"{_base}<uuid:pk>/{action.value}/", IntegrationActionApi.as_view(action=action.value, **_ziggy),
         name=f"iot-ziggy-config-{action.value}")
    for action in USER_ACTIONS
]
