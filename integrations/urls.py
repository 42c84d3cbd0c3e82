from django.urls import path

from integrations.apis.tenancy import ApiKeyDetailApi, ApiKeyListCreateApi, ApiKeyRevokeApi, TenantDetailApi

urlpatterns = [
    path("tenant/", TenantDetailApi.as_view(), name="tenant-detail"),
    path("keys/", ApiKeyListCreateApi.as_view(), name="api-key-list"),
    path("keys/<uuid:pk>/", ApiKeyDetailApi.as_view(), name="api-key-detail"),
    path("keys/<uuid:pk>/revoke/", ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
]
