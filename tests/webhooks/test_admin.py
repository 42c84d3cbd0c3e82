"""The webhooks admin pages: a tenant admin sees their own events and replays them; a
webhook source takes secret refs, never secrets."""
from __future__ import annotations

import pytest
from django.urls import reverse

from integrations.models import Membership
from integrations.services.tenancy import tenant_user_create
from tests.webhooks.signers import CASES_BY_KEY, make_config, signed_post
from webhooks.models import InboundEvent, WebhookSource

pytestmark = pytest.mark.django_db


@pytest.fixture
def alpha_admin(client, tenant, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    admin_client = type(client)()
    admin_client.force_login(tenant_user_create(tenant=tenant, username="alpha-admin", password="pw-123456789",
                                                role=Membership.Role.ADMIN))
    return admin_client


def test_a_tenant_admin_lists_only_their_events_and_replays_them(client, alpha_admin, tenant, other_tenant):
    case = CASES_BY_KEY["generic"]
    signed_post(client, case, make_config(tenant, case))
    signed_post(client, case, make_config(other_tenant, case))
    ours = InboundEvent.objects.get(tenant=tenant)
    changelist = reverse("admin:webhooks_inboundevent_changelist")

    listing = alpha_admin.get(changelist)
    replayed = alpha_admin.post(changelist, {"action": "replay", "_selected_action": [str(ours.pk)]})
    foreign = alpha_admin.get(reverse("admin:webhooks_inboundevent_change",
                                      args=[InboundEvent.objects.get(tenant=other_tenant).pk]))

    assert listing.status_code == 200
    assert str(ours.pk) in listing.content.decode()
    assert InboundEvent.objects.filter(tenant=other_tenant).get().pk.hex not in listing.content.decode()
    assert replayed.status_code == 302
    ours.refresh_from_db()
    assert ours.status != InboundEvent.Status.RECEIVED
    assert foreign.status_code in (302, 403, 404)


def test_a_webhook_source_refuses_a_pasted_secret(alpha_admin, tenant):
    response = alpha_admin.post(reverse("admin:webhooks_webhooksource_add"), {
        "family": "access-control", "provider": "ziggy", "display_name": "Ziggy gates",
        "webhook_signing_key_ref": "this-is-the-actual-secret", "webhook_allowed_networks": "[]",
        "capabilities": "{}", "quota_period": "month", "sandbox_mode": "on",
    })

    assert response.status_code == 200  # the form again, with the error
    assert "must be a secret ref" in response.content.decode()
    assert "this-is-the-actual-secret" not in response.content.decode()
    assert WebhookSource.objects.count() == 0
