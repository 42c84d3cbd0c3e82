"""The court operations admin: tenant admins edit members, courts and devices of their own
tenant; the Ziggy config form refuses what the API refuses."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from integrations.models import Membership
from iot.models import Court, Member, ZiggyIntegration

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant_admin(client, tenant, other_tenant):
    user = get_user_model().objects.create_user("club-admin", password="pw-for-tests", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.ADMIN)
    client.force_login(user)
    return client


def test_a_tenant_admin_sees_and_adds_members_of_their_tenant_only(tenant_admin, tenant, other_tenant):
    Member.objects.create(tenant=other_tenant, first_name="Theirs", rfid_card_id="FFFF")

    listed = tenant_admin.get("/admin/iot/member/")
    added = tenant_admin.post("/admin/iot/member/add/", {
        "tenant": str(tenant.pk), "first_name": "Ana", "last_name": "", "email": "", "phone": "", "external_id": "",
        "rfid_card_id": "04A2", "is_active": "on", "credits": "3", "membership_type": ""})

    assert listed.status_code == 200 and b"Theirs" not in listed.content
    assert added.status_code == 302
    assert Member.objects.get(first_name="Ana").tenant == tenant


def test_the_ziggy_form_refuses_a_pasted_secret_and_saves_a_ref(tenant_admin, tenant, store_secret):
    form = {"tenant": str(tenant.pk), "display_name": "Ziggy", "sandbox_mode": "on", "quota_period": "month",
            "client_id": "club-alpha", "api_base_url": "https://club.ziggy.example", "timeout_seconds": "5",
            "webhook_signing_key_ref": ""}

    pasted = tenant_admin.post("/admin/iot/ziggyintegration/add/", form | {"api_key_ref": "zg_live_secret"})
    saved = tenant_admin.post("/admin/iot/ziggyintegration/add/",
                              form | {"api_key_ref": store_secret("ziggy-key", "zg_live_secret")})

    assert pasted.status_code == 200
    assert b"must be a secret ref (kv://, local://, env://), not a secret value" in pasted.content
    assert b"zg_live_secret" not in pasted.content  # the pasted value is not echoed back
    assert saved.status_code == 302
    config = ZiggyIntegration.objects.get()
    assert (config.family, config.provider, config.status) == ("access-control", "ziggy", "draft")


def test_sessions_are_read_only_in_the_admin(tenant_admin, tenant):
    Court.objects.create(tenant=tenant, code="c1", name="Court 1")

    assert tenant_admin.get("/admin/iot/accesssession/add/").status_code == 403
    assert tenant_admin.get("/admin/iot/court/").status_code == 200
