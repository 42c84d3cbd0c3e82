"""Routes under /api/v1/communication/: provider configs, then email and SMS."""

from django.urls import path

from communication.apis.configs import (
    ConfigActionApi,
    ConfigDetailApi,
    ConfigListCreateApi,
    ConfigTransitionsApi,
    ConfigUsageApi,
    ConfigValidateApi,
)
from communication.apis.email import EmailDetailApi, EmailListSendApi, ProviderEmailSendApi
from communication.apis.notifications import NotificationDetailApi, NotificationListSendApi
from communication.apis.push import PushDetailApi, PushListApi, PushSendApi
from communication.apis.sms import ProviderSmsSendApi, SmsDetailApi, SmsListSendApi
from communication.apis.whatsapp import (
    WhatsAppDetailApi,
    WhatsAppListApi,
    WhatsAppTemplateSendApi,
    WhatsAppTextSendApi,
)
from communication.specs import CONFIG_SPECS
from integrations.lifecycle import USER_ACTIONS

urlpatterns = [
    path("emails/", EmailListSendApi.as_view(), name="communication-email-list"),
    path("emails/<uuid:pk>/", EmailDetailApi.as_view(), name="communication-email-detail"),
    path(
        "sendgrid/emails/",
        ProviderEmailSendApi.as_view(provider="sendgrid"),
        name="communication-sendgrid-send",
    ),
    path(
        "mailgun/emails/",
        ProviderEmailSendApi.as_view(provider="mailgun"),
        name="communication-mailgun-send",
    ),
    path("sms/", SmsListSendApi.as_view(), name="communication-sms-list"),
    path("sms/<uuid:pk>/", SmsDetailApi.as_view(), name="communication-sms-detail"),
    path(
        "elks/sms/", ProviderSmsSendApi.as_view(provider="elks46"), name="communication-elks-send"
    ),
    path(
        "twilio/sms/",
        ProviderSmsSendApi.as_view(provider="twilio"),
        name="communication-twilio-send",
    ),
    path(
        "notifications/", NotificationListSendApi.as_view(), name="communication-notification-list"
    ),
    path(
        "notifications/<uuid:pk>/",
        NotificationDetailApi.as_view(),
        name="communication-notification-detail",
    ),
    path("fcm/push/", PushSendApi.as_view(), name="communication-fcm-send"),
    path("push/", PushListApi.as_view(), name="communication-push-list"),
    path("push/<uuid:pk>/", PushDetailApi.as_view(), name="communication-push-detail"),
    path("whatsapp/messages/", WhatsAppListApi.as_view(), name="communication-whatsapp-list"),
    path(
        "whatsapp/messages/<uuid:pk>/",
        WhatsAppDetailApi.as_view(),
        name="communication-whatsapp-detail",
    ),
    path(
        "whatsapp/messages/template/",
        WhatsAppTemplateSendApi.as_view(),
        name="communication-whatsapp-template",
    ),
    path(
        "whatsapp/messages/text/", WhatsAppTextSendApi.as_view(), name="communication-whatsapp-text"
    ),
]

for slug in CONFIG_SPECS:
    base = f"{slug}/configs/"
    # `family` names the idempotency scope of creates, one per provider.
    views = {"family": f"communication/{slug}", "provider_slug": slug}
    urlpatterns += [
        path(base, ConfigListCreateApi.as_view(**views), name=f"communication-{slug}-config-list"),
        path(
            f"{base}<uuid:pk>/",
            ConfigDetailApi.as_view(**views),
            name=f"communication-{slug}-config-detail",
        ),
        path(
            f"{base}<uuid:pk>/validate/",
            ConfigValidateApi.as_view(**views),
            name=f"communication-{slug}-config-validate",
        ),
        path(
            f"{base}<uuid:pk>/usage/",
            ConfigUsageApi.as_view(**views),
            name=f"communication-{slug}-config-usage",
        ),
        path(
            f"{base}<uuid:pk>/transitions/",
            ConfigTransitionsApi.as_view(**views),
            name=f"communication-{slug}-config-transitions",
        ),
    ] + [
        path(
            f"{base}<uuid:pk>/{action.value}/",
            ConfigActionApi.as_view(action=action.value, **views),
            name=f"communication-{slug}-config-{action.value}",
        )
        for action in USER_ACTIONS
    ]
