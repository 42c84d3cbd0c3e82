"""`/webhooks/<provider>/<config id>/`: where providers post (outside /api/v1/, no API auth)."""
from django.urls import path

from webhooks.views import inbound_webhook

urlpatterns = [
    path("<slug:provider>/<uuid:config_id>/", inbound_webhook, name="inbound-webhook"),
]
