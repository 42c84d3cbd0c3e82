"""The admin through a tenant admin's eyes: own tenant's rows only, tenant set for them,
members read-only, superusers everywhere. tests/test_isolation.py walks every admin page
generically; these pin the behaviour of the tenancy admins themselves."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from integrations.models import ApiKey, Membership
from integrations.services.tenancy import api_key_create, membership_grant, tenant_user_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # only speed differs


def change_link_ids(response, model) -> set[str]:
    """The objects a changelist links to, read from its /admin/<app>/<model>/<pk>/change/ hrefs."""
    pattern = rf"/admin/integrations/{model._meta.model_name}/([0-9a-f-]{{36}})/change/"
    return set(re.findall(pattern, response.content.decode()))


def changelist(model) -> str:
    return reverse(f"admin:integrations_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:integrations_{obj._meta.model_name}_change", args=[obj.pk])


def key_form(*, name: str) -> dict:
    """The ApiKey change form as a browser posts it: only name and revoked_at are editable."""
    return {"name": name, "revoked_at_0": "", "revoked_at_1": ""}


@pytest.fixture
def keys(tenant, other_tenant):
    own, _ = api_key_create(tenant=tenant, name="alpha-mobile", scopes=["*:read"])
    foreign, _ = api_key_create(tenant=other_tenant, name="beta-web", scopes=["*"])
    return own, foreign


def logged_in(client, user):
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def alpha_admin(client, tenant):
    return logged_in(client, tenant_user_create(tenant=tenant, username="alpha-admin", password=PASSWORD,
                                                role=Membership.Role.ADMIN))


def test_tenant_admin_sees_only_their_tenants_keys(alpha_admin, keys):
    own, foreign = keys

    response = alpha_admin.get(changelist(ApiKey))

    assert response.status_code == 200
    assert change_link_ids(response, ApiKey) == {str(own.pk)}
    assert "beta-web" not in response.content.decode()


def test_tenant_admin_sees_only_their_tenants_memberships(alpha_admin, tenant, other_tenant):
    beta_user = tenant_user_create(tenant=other_tenant, username="beta-admin", password=PASSWORD,
                                   role="admin")
    alpha_member = tenant_user_create(tenant=tenant, username="alpha-coach", password=PASSWORD,
                                      role="member")

    response = alpha_admin.get(changelist(Membership))

    expected = {str(m.pk) for m in Membership.objects.filter(tenant=tenant)}
    assert response.status_code == 200
    assert change_link_ids(response, Membership) == expected
    assert str(Membership.objects.get(user=alpha_member).pk) in expected
    assert str(Membership.objects.get(user=beta_user).pk) not in change_link_ids(response, Membership)


def test_tenant_admin_edits_their_own_key(alpha_admin, keys):
    own, _ = keys

    response = alpha_admin.post(change(own), key_form(name="alpha-renamed"))

    assert response.status_code == 302
    assert response["Location"] == changelist(ApiKey)
    own.refresh_from_db()
    assert own.name == "alpha-renamed"
    assert own.scopes == ["*:read"]  # read-only in the admin: a rename cannot widen a key


def test_tenant_admin_cannot_open_or_edit_another_tenants_key(alpha_admin, keys):
    _, foreign = keys

    opened = alpha_admin.get(change(foreign))
    posted = alpha_admin.post(change(foreign), key_form(name="hijacked"))

    assert opened.status_code == 302 and opened["Location"] == reverse("admin:index")
    assert posted.status_code == 302 and posted["Location"] == reverse("admin:index")
    foreign.refresh_from_db()
    assert foreign.name == "beta-web"


def test_revoke_action_touches_only_own_keys(alpha_admin, keys):
    own, foreign = keys

    alpha_admin.post(changelist(ApiKey), {"action": "revoke", "_selected_action": [own.pk, foreign.pk]})

    own.refresh_from_db()
    foreign.refresh_from_db()
    assert own.revoked_at is not None
    assert foreign.revoked_at is None


def test_action_on_a_tenant_the_admin_only_reads_changes_nothing(alpha_admin, keys, other_tenant):
    own, foreign = keys
    membership_grant(tenant=other_tenant, user=alpha_admin.user, role=Membership.Role.MEMBER)
    listed = alpha_admin.get(changelist(ApiKey))

    alpha_admin.post(changelist(ApiKey), {"action": "revoke", "_selected_action": [own.pk, foreign.pk]})

    assert change_link_ids(listed, ApiKey) == {str(own.pk), str(foreign.pk)}  # beta is visible to them
    own.refresh_from_db()
    foreign.refresh_from_db()
    assert own.revoked_at is not None
    assert foreign.revoked_at is None


def _membership_add_page(client):
    return client.get(reverse("admin:integrations_membership_add"))


@pytest.fixture
def newcomer(other_tenant):
    """Someone alpha's admin can see (alpha's admin is also a read-only member of beta)."""
    return tenant_user_create(tenant=other_tenant, username="beta-coach", password=PASSWORD, role="member")


def test_single_tenant_admin_adds_a_membership_without_choosing_the_tenant(
        alpha_admin, tenant, other_tenant, newcomer):
    membership_grant(tenant=other_tenant, user=alpha_admin.user, role=Membership.Role.MEMBER)

    page = _membership_add_page(alpha_admin)
    response = alpha_admin.post(reverse("admin:integrations_membership_add"),
                                {"user": newcomer.pk, "role": "member", "tenant": str(other_tenant.pk)})

    assert page.status_code == 200
    assert '<select name="tenant"' not in page.content.decode()
    assert response.status_code == 302
    created = Membership.objects.get(user=newcomer, tenant=tenant)  # the posted tenant is ignored
    assert created.role == "member"
    assert Membership.objects.filter(user=newcomer).count() == 2  # beta's membership untouched


def test_adding_an_existing_membership_is_a_form_error_not_a_crash(alpha_admin, tenant):
    existing = tenant_user_create(tenant=tenant, username="alpha-coach", password=PASSWORD, role="member")

    response = alpha_admin.post(reverse("admin:integrations_membership_add"),
                                {"user": existing.pk, "role": "admin"})

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Membership.objects.get(user=existing, tenant=tenant).role == "member"


def test_add_form_offers_only_users_the_admin_can_see(alpha_admin, tenant, other_tenant):
    tenant_user_create(tenant=other_tenant, username="beta-only", password=PASSWORD, role="admin")
    tenant_user_create(tenant=tenant, username="alpha-coach", password=PASSWORD, role="member")

    page = _membership_add_page(alpha_admin).content.decode()

    assert "alpha-coach" in page
    assert "beta-only" not in page


@pytest.fixture
def alpha_member(client, tenant):
    return logged_in(client, tenant_user_create(tenant=tenant, username="alpha-viewer", password=PASSWORD,
                                                role=Membership.Role.MEMBER))


def test_member_can_view_but_not_change(alpha_member, keys):
    own, foreign = keys

    listed = alpha_member.get(changelist(ApiKey))
    viewed = alpha_member.get(change(own))
    posted = alpha_member.post(change(own), key_form(name="renamed-by-member"))
    revoked = alpha_member.post(changelist(ApiKey), {"action": "revoke", "_selected_action": [own.pk]})
    add_page = _membership_add_page(alpha_member)

    assert listed.status_code == 200 and change_link_ids(listed, ApiKey) == {str(own.pk)}
    assert 'name="action"' not in listed.content.decode()  # no bulk actions offered to a reader
    assert viewed.status_code == 200
    assert 'name="_save"' not in viewed.content.decode()
    assert posted.status_code == 403
    assert add_page.status_code == 403
    own.refresh_from_db()
    assert own.name == "alpha-mobile"
    assert own.revoked_at is None, revoked.status_code


def test_superuser_sees_every_tenant(admin_client, keys, tenant, other_tenant):
    own, foreign = keys
    tenant_user_create(tenant=other_tenant, username="beta-admin", password=PASSWORD, role="admin")

    keys_page = admin_client.get(changelist(ApiKey))
    memberships_page = admin_client.get(changelist(Membership))
    add_page = _membership_add_page(admin_client)

    assert change_link_ids(keys_page, ApiKey) == {str(own.pk), str(foreign.pk)}
    assert change_link_ids(memberships_page, Membership) == {str(m.pk) for m in Membership.objects.all()}
    assert '<select name="tenant"' in add_page.content.decode()  # a superuser picks the tenant


def test_staff_without_membership_sees_no_tenant_admin(client, keys, django_user_model):
    outsider = django_user_model.objects.create_user("outsider", password=PASSWORD, is_staff=True)
    logged_in(client, outsider)

    assert client.get(changelist(ApiKey)).status_code == 403
    assert client.get(changelist(Membership)).status_code == 403
    assert "apikey" not in client.get(reverse("admin:index")).content.decode().lower()
