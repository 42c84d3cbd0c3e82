from django.urls import path

from integrations.apis.families import (
    AllIntegrationsListApi,
    IntegrationActionApi,
    IntegrationDetailApi,
    IntegrationListCreateApi,
    IntegrationTransitionsApi,
    IntegrationUsageApi,
    IntegrationValidateApi,
)
from integrations.apis.oauth import OAuthCallbackApi, OAuthStartApi
from integrations.apis.deadletters import (
    DeadLetterDetailApi,
    DeadLetterDiscardApi,
    DeadLetterListApi,
    DeadLetterReplayApi,
)
from integrations.apis.payments import PaymentDetailApi, PaymentListCreateApi
from integrations.apis.secrets import SecretListCreateApi
from integrations.apis.tenancy import ApiKeyDetailApi, ApiKeyListCreateApi, ApiKeyRevokeApi, TenantDetailApi
from integrations.families.registry import families
from integrations.lifecycle import USER_ACTIONS

urlpatterns = [
    path("tenant/", TenantDetailApi.as_view(), name="tenant-detail"),
    path("keys/", ApiKeyListCreateApi.as_view(), name="api-key-list"),
    path("keys/<uuid:pk>/", ApiKeyDetailApi.as_view(), name="api-key-detail"),
    path("keys/<uuid:pk>/revoke/", ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
    path("secrets/", SecretListCreateApi.as_view(), name="secret-list"),
    path("integrations/", AllIntegrationsListApi.as_view(), name="integration-list-all"),
    path("integrations/payment-gateways/<uuid:pk>/payments/", PaymentListCreateApi.as_view(), name="payment-list"),
    path("payments/<uuid:pk>/", PaymentDetailApi.as_view(), name="payment-detail"),
    path("oauth/callback/", OAuthCallbackApi.as_view(), name="oauth-callback"),
    path("dead-letters/", DeadLetterListApi.as_view(), name="dead-letter-list"),
    path("dead-letters/<uuid:pk>/", DeadLetterDetailApi.as_view(), name="dead-letter-detail"),
    path("dead-letters/<uuid:pk>/replay/", DeadLetterReplayApi.as_view(), name="dead-letter-replay"),
    path("dead-letters/<uuid:pk>/discard/", DeadLetterDiscardApi.as_view(), name="dead-letter-discard"),
]

for slug in families():
    base = f"integrations/{slug}/"
    urlpatterns += [
        path(base, IntegrationListCreateApi.as_view(family=slug), name=f"{slug}-list"),
        path(f"{base}<uuid:pk>/", IntegrationDetailApi.as_view(family=slug), name=f"{slug}-detail"),
        path(f"{base}<uuid:pk>/validate/", IntegrationValidateApi.as_view(family=slug), name=f"{slug}-validate"),
        path(f"{base}<uuid:pk>/usage/", IntegrationUsageApi.as_view(family=slug), name=f"{slug}-usage"),
        path(f"{base}<uuid:pk>/transitions/", IntegrationTransitionsApi.as_view(family=slug),
             name=f"{slug}-transitions"),
        path(f"{base}<uuid:pk>/oauth/start/", OAuthStartApi.as_view(family=slug), name=f"{slug}-oauth-start"),
    ] + [
        path(f"{base}<uuid:pk>/{action.value}/", IntegrationActionApi.as_view(family=slug, action=action.value),
             name=f"{slug}-{action.value}")
        for action in USER_ACTIONS
    ]
