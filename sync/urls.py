"""Routes under /api/v1/sync/: runs and their operations, schedules, the hub's records, and the
CRUD + lifecycle of the crm, lms and erp configs (the integrations family views)."""
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
from sync.apis.records import COLLECTIONS, ReimbursementApproveApi, collection_views
from sync.apis.runs import (
    IntegrationStatusApi,
    LastResultApi,
    ReimbursementExportApi,
    RunCancelApi,
    RunDetailApi,
    RunExportApi,
    RunListTriggerApi,
    ScheduleDetailApi,
    ScheduleListCreateApi,
    ScopedSyncApi,
    TokenRefreshApi,
)
from sync.apis.webhooks import WebhookEventApi
from sync.families import SYNC_FAMILY_SPECS

urlpatterns = [
    path("runs/", RunListTriggerApi.as_view(), name="sync-run-list"),
    path("runs/<uuid:pk>/", RunDetailApi.as_view(), name="sync-run-detail"),
    path("runs/<uuid:pk>/cancel/", RunCancelApi.as_view(), name="sync-run-cancel"),
    path("runs/<uuid:pk>/export.csv", RunExportApi.as_view(), name="sync-run-export"),
    path("status/", IntegrationStatusApi.as_view(), name="sync-status"),
    path("last-result/", LastResultApi.as_view(), name="sync-last-result"),
    path("schedules/", ScheduleListCreateApi.as_view(), name="sync-schedule-list"),
    path("schedules/<uuid:pk>/", ScheduleDetailApi.as_view(), name="sync-schedule-detail"),
    path("oauth/refresh/", TokenRefreshApi.as_view(), name="sync-oauth-refresh"),
    path("webhook-events/", WebhookEventApi.as_view(), name="sync-webhook-events"),
    path("reimbursements/export/", ReimbursementExportApi.as_view(), name="sync-reimbursements-export"),
    path("members/sync/", ScopedSyncApi.as_view(scope="members", default_type="crm/dynamics365"),
         name="sync-members"),
    path("enrollments/sync/", ScopedSyncApi.as_view(scope="enrollments"), name="sync-enrollments"),
    path("reimbursements/<uuid:pk>/approve/", ReimbursementApproveApi.as_view(), name="sync-reimbursement-approve"),
]
for collection in COLLECTIONS:
    listing, detail = collection_views(collection)
    urlpatterns += [
        path(f"{collection}/", listing.as_view(), name=f"sync-{collection}-list"),
        path(f"{collection}/<uuid:pk>/", detail.as_view(), name=f"sync-{collection}-detail"),
    ]

for slug in SYNC_FAMILY_SPECS:
    base = f"{slug}/configs/"
    views = {"family": slug, "scope_area": "sync"}
    urlpatterns += [
        path(base, IntegrationListCreateApi.as_view(**views), name=f"sync-{slug}-config-list"),
        path(f"{base}<uuid:pk>/", IntegrationDetailApi.as_view(**views), name=f"sync-{slug}-config-detail"),
        path(f"{base}<uuid:pk>/validate/", IntegrationValidateApi.as_view(**views),
             name=f"sync-{slug}-config-validate"),
        path(f"{base}<uuid:pk>/usage/", IntegrationUsageApi.as_view(**views), name=f"sync-{slug}-config-usage"),
        path(f"{base}<uuid:pk>/transitions/", IntegrationTransitionsApi.as_view(**views),
             name=f"sync-{slug}-config-transitions"),
    ] + [
        path(f"{base}<uuid:pk>/{action.value}/", IntegrationActionApi.as_view(action=action.value, **views),
             name=f"sync-{slug}-config-{action.value}")
        for action in USER_ACTIONS
    ]
