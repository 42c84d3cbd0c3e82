import pytest
from rest_framework.test import APIClient

from integrations.models import ApiKey

pytestmark = pytest.mark.django_db


def test_created_key_is_shown_once_and_stored_hashed(api):
    response = api.post("/api/v1/keys/", {"name": "mobile", "scopes": ["integrations:read"]}, format="json")

    assert response.status_code == 201
    plaintext = response.json()["key"]
    stored = ApiKey.objects.get(pk=response.json()["id"])
    assert plaintext.startswith(f"hub_{stored.prefix}_")
    assert plaintext.split("_", 2)[2] not in stored.key_hash
    listed = api.get("/api/v1/keys/").json()["results"]
    assert all("key" not in row and "key_hash" not in row for row in listed)
    assert response.json()["prefix"] in {row["prefix"] for row in listed}


def test_key_authenticates_and_records_last_use(tenant, api_for):
    client = api_for(tenant, scopes=["keys:read"])

    response = client.get("/api/v1/tenant/")

    assert response.status_code == 200
    assert response.json()["slug"] == "alpha"
    assert ApiKey.objects.get(tenant=tenant).last_used_at is not None


@pytest.mark.parametrize("header", [
    {}, {"HTTP_AUTHORIZATION": "Api-Key hub_deadbeef_nope"}, {"HTTP_AUTHORIZATION": "Api-Key garbage"},
])
def test_missing_or_unknown_key_is_401_problem(db, header):
    response = APIClient().get("/api/v1/keys/", **header)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401


def test_revoked_key_stops_working(tenant, api_for):
    admin = api_for(tenant)
    created = admin.post("/api/v1/keys/", {"name": "tmp", "scopes": ["*:read"]}, format="json").json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {created['key']}")
    assert client.get("/api/v1/tenant/").status_code == 200

    revoked = admin.post(f"/api/v1/keys/{created['id']}/revoke/")

    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/api/v1/tenant/").status_code == 401


def test_scope_missing_is_403_naming_the_scope(tenant, api_for):
    reader = api_for(tenant, scopes=["integrations:read"])

    response = reader.post("/api/v1/keys/", {"name": "x", "scopes": ["*"]}, format="json")

    assert response.status_code == 403
    assert "keys:write" in response.json()["detail"]
    assert ApiKey.objects.filter(tenant=tenant).count() == 1


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "scopes": ["*"], "tenant": "beta"}, "tenant"),
    ({"name": "x", "scopes": ["nonsense:read"]}, None),
    ({"name": "x", "scopes": "*"}, "scopes"),
    ({"scopes": ["*"]}, "name"),
    ({"name": "x" * 101, "scopes": ["*"]}, "name"),
])
def test_bad_key_input_is_400_and_creates_nothing(tenant, api, body, field):
    response = api.post("/api/v1/keys/", body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    if field:
        assert field in response.json()["errors"]
    assert ApiKey.objects.filter(tenant=tenant).count() == 1


def test_malformed_json_is_400(api):
    response = api.generic("POST", "/api/v1/keys/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_other_tenants_key_is_404(tenant, other_api, api):
    key_id = api.get("/api/v1/keys/").json()["results"][0]["id"]

    assert other_api.get(f"/api/v1/keys/{key_id}/").status_code == 404
    assert other_api.post(f"/api/v1/keys/{key_id}/revoke/").status_code == 404
    assert ApiKey.objects.get(pk=key_id).revoked_at is None


def test_create_api_key_command_prints_a_working_key(tenant, capsys):
    from django.core.management import call_command

    call_command("create_api_key", "alpha", "--scopes", "keys:read")
    plaintext = capsys.readouterr().out.strip()

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    assert client.get("/api/v1/keys/").status_code == 200
    assert client.post("/api/v1/keys/", {"name": "x", "scopes": ["*"]}, format="json").status_code == 403
