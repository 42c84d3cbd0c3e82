"""Secrets as refs: parsing, the local store, resolution, SecretRefField, the API and admin."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate

from adapters.redaction import redact
from config.api import StrictSerializer, TenantApi
from config.auth import Principal
from integrations.errors import ApplicationError
from integrations.models import LocalSecret
from integrations.secrets.crypto import derive_key_from_secret_key, fernet_for
from integrations.secrets.errors import SecretBackendUnavailable, SecretNotFound, SecretRefInvalid
from integrations.secrets.fields import SecretRefField
from integrations.secrets.refs import NOT_A_REF_MESSAGE, SecretRef, is_ref, parse_ref
from integrations.secrets.services import secret_cache_clear, secret_resolve, secret_store

HEX32 = "0123456789abcdef0123456789ABCDEF"


@pytest.fixture(autouse=True)
def _fresh_secret_cache():
    secret_cache_clear()
    yield
    secret_cache_clear()


# --- refs -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("kv://hub-vault/stripe-key", SecretRef("kv", "hub-vault", "stripe-key", None)),
    (f"kv://abc/x/{HEX32}", SecretRef("kv", "abc", "x", HEX32)),
    ("kv://" + "a" * 24 + "/" + "n" * 127, SecretRef("kv", "a" * 24, "n" * 127, None)),
    ("kv://a1-b2-c3/Name-9", SecretRef("kv", "a1-b2-c3", "Name-9", None)),
    ("local://stripe_key", SecretRef("local", None, "stripe_key", None)),
    ("local://stripe-key/12", SecretRef("local", None, "stripe-key", "12")),
    ("local://" + "z" * 128, SecretRef("local", None, "z" * 128, None)),
    ("env://HUB_SECRET_STRIPE_KEY", SecretRef("env", None, "HUB_SECRET_STRIPE_KEY", None)),
    ("env://HUB_SECRET_x1", SecretRef("env", None, "HUB_SECRET_x1", None)),
])
def test_valid_refs_parse_and_print_back_unchanged(text, expected):
    parsed = parse_ref(text)

    assert parsed == expected
    assert str(parsed) == text
    assert is_ref(text) is True


@pytest.mark.parametrize("text, message", [
    ("sk_live_abc", NOT_A_REF_MESSAGE),
    ("", NOT_A_REF_MESSAGE),
    ("KV://vault/name", NOT_A_REF_MESSAGE),
    ("https://vault/name", NOT_A_REF_MESSAGE),
    (" local://name", NOT_A_REF_MESSAGE),
    (12345678, "a secret ref must be a string"),
    (None, "a secret ref must be a string"),
    ("kv://vault/" + "n" * 600, "a secret ref is at most 512 characters"),
    ("kv://vault", "a kv:// ref has the form kv://<vault>/<name>[/<version>]"),
    (f"kv://vault/name/{HEX32}/more", "a kv:// ref has the form kv://<vault>/<name>[/<version>]"),
    ("kv://ab/name", "the kv:// vault name must be 3-24 characters long"),
    ("kv://" + "a" * 25 + "/name", "the kv:// vault name must be 3-24 characters long"),
    ("kv://1vault/name", "must start with a letter and end with a letter or digit"),
    ("kv://vault-/name", "must start with a letter and end with a letter or digit"),
    ("kv://va--ult/name", "may hold only letters, digits and single hyphens"),
    ("kv://va_ult/name", "may hold only letters, digits and single hyphens"),
    ("kv://vault/na_me", "the kv:// secret name must be 1-127 letters, digits or hyphens"),
    ("kv://vault/", "the kv:// secret name must be 1-127 letters, digits or hyphens"),
    ("kv://vault/" + "n" * 128, "the kv:// secret name must be 1-127 letters, digits or hyphens"),
    ("kv://vault/name/v1", "the kv:// secret version must be 32 hexadecimal characters"),
    ("local://", "the local:// secret name must be 1-128 letters, digits, hyphens or underscores"),
    ("local://a b", "the local:// secret name must be 1-128 letters, digits, hyphens or underscores"),
    ("local://name ", "the local:// secret name must be 1-128 letters, digits, hyphens or underscores"),
    ("local://" + "z" * 129, "the local:// secret name must be 1-128 letters, digits, hyphens or underscores"),
    ("local://name/0", "the local:// secret version must be a positive whole number"),
    ("local://name/01", "the local:// secret version must be a positive whole number"),
    ("local://name/1/2", "a local:// ref has the form local://<name>[/<version>]"),
    ("env://1ABC", "an env:// ref names one environment variable"),
    ("env://A-B", "an env:// ref names one environment variable"),
    ("env://", "an env:// ref names one environment variable"),
])
def test_invalid_refs_raise_a_typed_error_naming_the_rule(text, message):
    with pytest.raises(SecretRefInvalid) as caught:
        parse_ref(text)

    assert message in caught.value.detail
    assert caught.value.status == 400 and caught.value.code == "invalid_secret_ref"
    assert is_ref(text) is False


def test_env_refs_are_refused_while_disabled(settings):
    settings.SECRETS_ENV_REFS_ENABLED = False

    with pytest.raises(SecretRefInvalid, match="env:// refs are disabled"):
        parse_ref("env://HUB_SECRET_STRIPE_KEY")
    assert is_ref("env://HUB_SECRET_STRIPE_KEY") is False
    assert parse_ref("env://HUB_SECRET_STRIPE_KEY", allow_env=True).name == "HUB_SECRET_STRIPE_KEY"


def test_error_types_are_application_errors_with_their_statuses():
    assert issubclass(SecretNotFound, ApplicationError) and SecretNotFound("x").status == 400
    assert issubclass(SecretBackendUnavailable, ApplicationError) and SecretBackendUnavailable("x").status == 503


# --- the local store and resolution -----------------------------------------------------
@pytest.mark.django_db
def test_store_encrypts_at_rest_and_resolves_per_tenant(tenant, other_tenant):
    ref = secret_store(tenant=tenant, name="stripe-key", value="sk_test_alpha_123")

    row = LocalSecret.objects.get(tenant=tenant, name="stripe-key")
    assert ref == "local://stripe-key"
    assert row.version == 1
    assert "sk_test_alpha_123" not in row.ciphertext
    assert secret_resolve(tenant=tenant, ref=ref) == "sk_test_alpha_123"
    with pytest.raises(SecretNotFound) as caught:
        secret_resolve(tenant=other_tenant, ref=ref)
    assert caught.value.detail == "local://stripe-key does not exist for this tenant"


@pytest.mark.django_db
def test_versions_increase_and_versioned_refs_pin_one(tenant, django_capture_on_commit_callbacks):
    secret_store(tenant=tenant, name="smtp", value="first-password")
    assert secret_resolve(tenant=tenant, ref="local://smtp") == "first-password"

    with django_capture_on_commit_callbacks(execute=True):
        secret_store(tenant=tenant, name="smtp", value="second-password")

    assert list(LocalSecret.objects.filter(name="smtp").values_list("version", flat=True)) == [2, 1]
    assert secret_resolve(tenant=tenant, ref="local://smtp") == "second-password"
    assert secret_resolve(tenant=tenant, ref="local://smtp/1") == "first-password"
    with pytest.raises(SecretNotFound, match="local://smtp/3 does not exist"):
        secret_resolve(tenant=tenant, ref="local://smtp/3")


@pytest.mark.django_db
def test_another_tenant_does_not_get_a_cached_value(tenant, other_tenant):
    secret_store(tenant=tenant, name="shared-name", value="alpha-only-value")
    secret_store(tenant=other_tenant, name="shared-name", value="beta-only-value")

    assert secret_resolve(tenant=tenant, ref="local://shared-name") == "alpha-only-value"
    assert secret_resolve(tenant=other_tenant, ref="local://shared-name") == "beta-only-value"


@pytest.mark.django_db
def test_resolution_is_cached_for_the_configured_time(tenant, monkeypatch, settings):
    monkeypatch.setenv("HUB_SECRET_TEST_TOKEN", "token-before")
    assert secret_resolve(tenant=tenant, ref="env://HUB_SECRET_TEST_TOKEN") == "token-before"
    monkeypatch.setenv("HUB_SECRET_TEST_TOKEN", "token-after")

    assert secret_resolve(tenant=tenant, ref="env://HUB_SECRET_TEST_TOKEN") == "token-before"
    secret_cache_clear()
    assert secret_resolve(tenant=tenant, ref="env://HUB_SECRET_TEST_TOKEN") == "token-after"

    settings.SECRETS_CACHE_SECONDS = 0
    monkeypatch.setenv("HUB_SECRET_TEST_TOKEN", "token-uncached")
    secret_cache_clear()
    assert secret_resolve(tenant=tenant, ref="env://HUB_SECRET_TEST_TOKEN") == "token-uncached"
    monkeypatch.setenv("HUB_SECRET_TEST_TOKEN", "token-latest")
    assert secret_resolve(tenant=tenant, ref="env://HUB_SECRET_TEST_TOKEN") == "token-latest"


@pytest.mark.django_db
def test_missing_env_var_is_not_found_and_resolved_values_are_redacted(tenant, monkeypatch):
    monkeypatch.delenv("HUB_SECRET_TEST_ABSENT", raising=False)
    monkeypatch.setenv("HUB_SECRET_TEST_PRESENT", "present-value-42")

    with pytest.raises(SecretNotFound, match=r"env://HUB_SECRET_TEST_ABSENT is not set"):
        secret_resolve(tenant=tenant, ref="env://HUB_SECRET_TEST_ABSENT")
    value = secret_resolve(tenant=tenant, ref="env://HUB_SECRET_TEST_PRESENT")

    assert redact(f"calling with {value}") == "calling with [REDACTED]"


@pytest.mark.django_db
def test_a_key_change_is_a_503_naming_the_ref(tenant, settings):
    settings.LOCAL_SECRETS_KEY = Fernet.generate_key().decode()
    secret_store(tenant=tenant, name="rotated", value="written-with-key-a")

    settings.LOCAL_SECRETS_KEY = Fernet.generate_key().decode()

    with pytest.raises(SecretBackendUnavailable) as caught:
        secret_resolve(tenant=tenant, ref="local://rotated")
    assert caught.value.status == 503
    assert caught.value.detail.startswith("local://rotated/1 cannot be decrypted")


@pytest.mark.django_db
def test_ciphertext_moved_onto_another_tenants_row_does_not_decrypt(tenant, other_tenant):
    secret_store(tenant=tenant, name="api-token", value="alpha-token-value")
    secret_store(tenant=other_tenant, name="api-token", value="beta-token-value")
    alpha = LocalSecret.objects.get(tenant=tenant, name="api-token")

    LocalSecret.objects.filter(tenant=other_tenant, name="api-token").update(ciphertext=alpha.ciphertext)

    with pytest.raises(SecretBackendUnavailable, match="sealed for another tenant"):
        secret_resolve(tenant=other_tenant, ref="local://api-token")


def test_embedded_default_key_is_derived_from_secret_key():
    key = derive_key_from_secret_key("some-secret-key")

    assert key == derive_key_from_secret_key("some-secret-key")
    assert key != derive_key_from_secret_key("another-secret-key")
    assert fernet_for(configured_key="", secret_key="some-secret-key").decrypt(
        Fernet(key).encrypt(b"round trip")) == b"round trip"


@pytest.mark.parametrize("bad_key", ["not-a-key", "c2hvcnQ=", "!" * 44])
def test_a_bad_configured_key_is_improperly_configured(bad_key):
    with pytest.raises(ImproperlyConfigured, match="LOCAL_SECRETS_KEY must be urlsafe base64 of 32 bytes"):
        fernet_for(configured_key=bad_key, secret_key="irrelevant")


def test_a_bad_configured_key_stops_startup_without_printing_it():
    env = {**os.environ, "LOCAL_SECRETS_KEY": "definitely-not-a-fernet-key", "DJANGO_SETTINGS_MODULE": "config.settings"}

    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "ImproperlyConfigured: LOCAL_SECRETS_KEY must be urlsafe base64 of 32 bytes" in result.stderr
    assert "definitely-not-a-fernet-key" not in result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("name, value, field", [
    ("has space", "v", "name"), ("", "v", "name"), ("x" * 129, "v", "name"), ("ok", "", "value"),
    ("ok", "x" * (64 * 1024 + 1), "value"), ("ok", 12345678, "value"),
])
def test_store_refuses_bad_names_and_values(tenant, name, value, field):
    with pytest.raises(ApplicationError) as caught:
        secret_store(tenant=tenant, name=name, value=value)

    assert list(caught.value.extra["errors"]) == [field]
    assert LocalSecret.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_distinct_consecutive_versions(tenant):
    writers = 6
    barrier = threading.Barrier(writers)
    refs, failures = [], []

    def write(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            refs.append(secret_store(tenant=tenant, name="busy", value=f"value-number-{index}"))
        except Exception as exc:  # reported below; a thread must not die silently
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert refs == ["local://busy"] * writers
    assert sorted(LocalSecret.objects.filter(name="busy").values_list("version", flat=True)) == [1, 2, 3, 4, 5, 6]


# --- SecretRefField ---------------------------------------------------------------------
class _CredentialsProbeApi(TenantApi):
    """Stands in for every API with `*_ref` fields."""

    class InputSerializer(StrictSerializer):
        api_key_ref = SecretRefField()

    def post(self, request):
        data = self.InputSerializer(data=request.data, context={"tenant": self.tenant})
        data.is_valid(raise_exception=True)
        return Response(data.validated_data)


def _post_probe(tenant, body):
    request = APIRequestFactory().post("/probe/", body, format="json")
    force_authenticate(request, user=Principal(tenant=tenant, scopes=("*",), actor="test"))
    response = _CredentialsProbeApi.as_view()(request)
    response.render()
    return response


@pytest.mark.django_db
@pytest.mark.parametrize("inline", ["sk_live_abc", "SG.abcdef.ghijkl", "AC0123:secret-token", 4242424242])
def test_ref_field_rejects_an_inline_secret_with_a_400_problem(tenant, inline):
    response = _post_probe(tenant, {"api_key_ref": inline})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.data["errors"] == {"api_key_ref": [NOT_A_REF_MESSAGE]}
    assert str(inline) not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("ref, message", [
    ("kv://ab/stripe", "the kv:// vault name must be 3-24 characters long"),
    ("local://missing", "local://missing does not exist for this tenant; store it first with POST /api/v1/secrets/"),
    ("local://present/2", "local://present/2 does not exist for this tenant"),
    ("local://" + "x" * 600, "a secret ref is at most 512 characters"),
])
def test_ref_field_names_what_is_wrong(tenant, ref, message):
    secret_store(tenant=tenant, name="present", value="present-value")

    response = _post_probe(tenant, {"api_key_ref": ref})

    assert response.status_code == 400
    assert response.data["errors"]["api_key_ref"][0].startswith(message)


@pytest.mark.django_db
def test_ref_field_accepts_refs_and_sees_only_the_tenants_local_secrets(tenant, other_tenant):
    secret_store(tenant=other_tenant, name="theirs", value="their-value")
    secret_store(tenant=tenant, name="mine", value="my-value")

    for ref in ("local://mine", "local://mine/1", "kv://hub-vault/stripe", "env://HUB_SECRET_STRIPE_KEY"):
        response = _post_probe(tenant, {"api_key_ref": ref})
        assert (response.status_code, response.data) == (200, {"api_key_ref": ref})
    assert _post_probe(tenant, {"api_key_ref": "local://theirs"}).status_code == 400


# --- the API ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_post_stores_a_version_and_never_returns_the_value(tenant, api):
    response = api.post("/api/v1/secrets/", {"name": "stripe-key", "value": "sk_test_posted_value"}, format="json")

    assert response.status_code == 201
    assert response.json() == {"ref": "local://stripe-key", "name": "stripe-key", "version": 1}
    assert "sk_test_posted_value" not in response.content.decode()
    assert secret_resolve(tenant=tenant, ref="local://stripe-key") == "sk_test_posted_value"


@pytest.mark.django_db
def test_versions_increase_and_the_list_shows_no_values(api):
    api.post("/api/v1/secrets/", {"name": "smtp", "value": "first-smtp-password"}, format="json")
    second = api.post("/api/v1/secrets/", {"name": "smtp", "value": "second-smtp-password"}, format="json")

    listed = api.get("/api/v1/secrets/")

    assert second.json()["version"] == 2
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert [(r["name"], r["version"], r["ref"]) for r in rows] == [("smtp", 2, "local://smtp/2"), ("smtp", 1, "local://smtp/1")]
    assert all(set(r) == {"name", "version", "ref", "created_at"} for r in rows)
    assert "smtp-password" not in listed.content.decode()


@pytest.mark.django_db
def test_another_tenant_neither_lists_nor_resolves_the_secret(api, other_api, other_tenant):
    api.post("/api/v1/secrets/", {"name": "shared", "value": "alpha-shared-value"}, format="json")

    assert other_api.get("/api/v1/secrets/").json()["results"] == []
    with pytest.raises(SecretNotFound):
        secret_resolve(tenant=other_tenant, ref="local://shared")
    created = other_api.post("/api/v1/secrets/", {"name": "shared", "value": "beta-shared-value"}, format="json")
    assert created.json()["version"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"value": "bad-input-value"}, "name"),
    ({"name": "ok"}, "value"),
    ({"name": "ok", "value": ""}, "value"),
    ({"name": "has space", "value": "bad-input-value"}, "name"),
    ({"name": "x" * 129, "value": "bad-input-value"}, "name"),
    ({"name": "ok", "value": "bad-input-value" + "x" * (64 * 1024)}, "value"),
    ({"name": "ok", "value": 12345678}, "value"),
    ({"name": "ok", "value": ["bad-input-value"]}, "value"),
    ({"name": "ok", "value": "bad-input-value", "tenant": "beta"}, "tenant"),
    ({"name": "ok", "value": "bad-input-value", "version": 7}, "version"),
    (["bad-input-value"], "non_field_errors"),
])
def test_bad_input_is_400_stores_nothing_and_echoes_no_value(api, body, field):
    response = api.post("/api/v1/secrets/", body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert "bad-input-value" not in response.content.decode()
    assert LocalSecret.objects.count() == 0


@pytest.mark.django_db
def test_value_of_exactly_64_kib_is_accepted(api):
    response = api.post("/api/v1/secrets/", {"name": "big", "value": "x" * (64 * 1024)}, format="json")

    assert response.status_code == 201


@pytest.mark.django_db
def test_scopes_guard_the_endpoint(tenant, api_for):
    reader = api_for(tenant, scopes=["secrets:read"])
    outsider = api_for(tenant, scopes=["integrations:*"])

    assert reader.get("/api/v1/secrets/").status_code == 200
    denied = reader.post("/api/v1/secrets/", {"name": "x", "value": "scoped-value"}, format="json")
    assert denied.status_code == 403 and "secrets:write" in denied.json()["detail"]
    assert outsider.get("/api/v1/secrets/").status_code == 403
    assert LocalSecret.objects.count() == 0


# --- admin ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_admin_lists_names_and_versions_only_and_is_read_only(tenant, client, django_user_model):
    secret_store(tenant=tenant, name="admin-visible", value="admin-hidden-value")
    row = LocalSecret.objects.get(name="admin-visible")
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.org", "pw"))

    changelist = client.get("/admin/integrations/localsecret/")
    detail = client.get(f"/admin/integrations/localsecret/{row.pk}/change/")

    assert changelist.status_code == 200 and "admin-visible" in changelist.content.decode()
    assert detail.status_code == 200
    for page in (changelist, detail):
        assert row.ciphertext not in page.content.decode()
        assert "ciphertext" not in page.content.decode()
    assert 'name="name"' not in detail.content.decode()  # shown as text, not as an input
    assert client.get("/admin/integrations/localsecret/add/").status_code == 403


@pytest.mark.parametrize("ref", ["env://DJANGO_SECRET_KEY", "env://LOCAL_SECRETS_KEY", "env://DATABASE_URL"])
def test_env_refs_cannot_name_the_hubs_own_configuration(ref):
    with pytest.raises(SecretRefInvalid, match="only name variables starting with HUB_SECRET_"):
        parse_ref(ref, allow_env=True)
