"""OIDC bearer authentication against a local Keycloak-shaped issuer (tests/sandboxes/oidc.py).

The JWKS refetch rate limit runs on `config.oidc.clock`, which these tests replace with a
fake clock: rotations and bursts are played by advancing it, never by sleeping.
"""
from __future__ import annotations

import time

import pytest

import config.oidc
from integrations.models import ApiKey
from integrations.services.tenancy import api_key_create
from tests.sandboxes.oidc import OidcIssuer

pytestmark = pytest.mark.django_db

PAST_REFETCH_INTERVAL = config.oidc.MIN_REFETCH_INTERVAL_SECONDS + 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0  # a freshly booted machine: the monotonic clock starts near zero

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def fake_clock(monkeypatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(config.oidc, "clock", clock)
    return clock


@pytest.fixture
def issuer(settings):
    with OidcIssuer() as running:
        settings.OIDC_ISSUER = running.issuer
        settings.OIDC_JWKS_URL = running.jwks_url
        settings.OIDC_AUDIENCE = running.audience
        yield running


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def assert_problem(response, status: int, detail: str | None = None) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    if detail is not None:
        assert body["detail"] == detail
    if status == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'


# --- accepted tokens ------------------------------------------------------------------------

@pytest.mark.parametrize("tenant_ref", ["slug", "id"])
def test_valid_token_authenticates_as_the_claimed_tenant(client, issuer, tenant, other_tenant, tenant_ref):
    claim = tenant.slug if tenant_ref == "slug" else str(tenant.pk)
    token = issuer.sign(issuer.claims(tenant=claim))

    response = client.get("/api/v1/tenant/", **bearer(token))

    assert response.status_code == 200
    assert response.json() == {"id": str(tenant.pk), "slug": "alpha", "name": "Alpha Federation"}


def test_jwks_is_fetched_once_and_then_served_from_cache(client, issuer, tenant):
    token = issuer.sign(issuer.claims(tenant="alpha"))

    statuses = [client.get("/api/v1/tenant/", **bearer(token)).status_code for _ in range(5)]

    assert statuses == [200] * 5
    assert issuer.jwks_fetches == 1


def test_other_tenants_key_answers_404_to_a_token(client, issuer, tenant, other_tenant):
    foreign_key, _ = api_key_create(tenant=other_tenant, name="beta-key", scopes=["*"])
    token = issuer.sign(issuer.claims(tenant="alpha", roles=["hub-admin"]))

    response = client.get(f"/api/v1/keys/{foreign_key.pk}/", **bearer(token))

    assert_problem(response, 404)


# --- refused tokens -------------------------------------------------------------------------

def _now() -> int:
    return int(time.time())


@pytest.mark.parametrize("overrides, detail", [
    pytest.param({"exp": _now() - 3600, "iat": _now() - 7200, "nbf": _now() - 7200},
                 "token has expired", id="expired"),
    pytest.param({"iss": "http://127.0.0.1:1/realms/other"}, "token issuer is not trusted",
                 id="wrong-issuer"),
    pytest.param({"aud": "some-other-client"}, "token audience is not this service", id="wrong-audience"),
    pytest.param({"tenant_id": "gamma"}, "token names an unknown tenant", id="unknown-tenant"),
    pytest.param({"tenant_id": "00000000-0000-0000-0000-000000000000"}, "token names an unknown tenant",
                 id="unknown-tenant-uuid"),
    pytest.param({"tenant_id": "al\x00pha"}, "token names an unknown tenant", id="nul-in-tenant"),
    pytest.param({"tenant_id": "a" * 5000}, "token names an unknown tenant", id="huge-tenant"),
    pytest.param({"tenant_id": 42}, "token has no 'tenant_id' claim", id="tenant-not-a-string"),
    pytest.param({"tenant_id": ""}, "token has no 'tenant_id' claim", id="tenant-empty"),
])
def test_token_with_bad_claims_is_401(client, issuer, tenant, overrides, detail):
    token = issuer.sign(issuer.claims(tenant="alpha", **overrides))

    response = client.get("/api/v1/tenant/", **bearer(token))

    assert_problem(response, 401, detail)


@pytest.mark.parametrize("missing", ["tenant_id", "sub", "exp", "aud", "iss"])
def test_token_missing_a_required_claim_is_401(client, issuer, tenant, missing):
    claims = issuer.claims(tenant="alpha")
    del claims[missing]

    response = client.get("/api/v1/tenant/", **bearer(issuer.sign(claims)))

    assert_problem(response, 401)
    assert missing in response.json()["detail"]


def test_token_of_an_inactive_tenant_is_401(client, issuer, tenant):
    tenant.is_active = False
    tenant.save(update_fields=["is_active"])

    response = client.get("/api/v1/tenant/", **bearer(issuer.sign(issuer.claims(tenant="alpha"))))

    assert_problem(response, 401, "token names an unknown tenant")


def test_token_not_yet_valid_is_401(client, issuer, tenant):
    token = issuer.sign(issuer.claims(tenant="alpha", nbf=_now() + 3600))

    assert_problem(client.get("/api/v1/tenant/", **bearer(token)), 401)


def test_token_signed_with_an_unpublished_key_is_401(client, issuer, tenant):
    token = issuer.sign_with_unpublished_key(issuer.claims(tenant="alpha"), kid="ghost")

    response = client.get("/api/v1/tenant/", **bearer(token))

    assert_problem(response, 401, "unknown signing key id 'ghost'")


def test_token_reusing_a_published_kid_with_a_foreign_key_is_401(client, issuer, tenant):
    token = issuer.sign_with_unpublished_key(issuer.claims(tenant="alpha"), kid=issuer.current_kid)

    response = client.get("/api/v1/tenant/", **bearer(token))

    assert_problem(response, 401, "token rejected: Signature verification failed")


@pytest.mark.parametrize("alg", ["HS256", "none"])
def test_token_in_a_forbidden_algorithm_is_401(client, issuer, tenant, alg):
    token = issuer.forge(issuer.claims(tenant="alpha"), alg=alg)

    response = client.get("/api/v1/tenant/", **bearer(token))

    assert_problem(response, 401, "token must be signed with RS256")
    assert issuer.jwks_fetches == 0


@pytest.mark.parametrize("kid, detail", [
    (None, "token header has no kid"), ("", "token header has no kid"),
    (["list"], "malformed token"), (7, "malformed token"), ({"k": 1}, "malformed token"),
])
def test_token_with_a_missing_or_malformed_kid_is_401(client, issuer, tenant, kid, detail):
    token = issuer.forge(issuer.claims(tenant="alpha"), alg="RS256", header_extra={"kid": kid})

    assert_problem(client.get("/api/v1/tenant/", **bearer(token)), 401, detail)


def test_hand_built_rs256_token_is_accepted(client, issuer, tenant):
    """Control for the malformed-kid cases: forge() itself makes valid tokens."""
    token = issuer.forge(issuer.claims(tenant="alpha"), alg="RS256")

    assert client.get("/api/v1/tenant/", **bearer(token)).status_code == 200


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", "\u00e9\u00e9"])
def test_malformed_token_is_401(client, issuer, tenant, token):
    assert_problem(client.get("/api/v1/tenant/", **bearer(token)), 401)


def test_tampered_payload_is_401(client, issuer, tenant, other_tenant):
    header, _, signature = issuer.sign(issuer.claims(tenant="alpha")).split(".")
    _, payload, _ = issuer.sign(issuer.claims(tenant="beta")).split(".")

    response = client.get("/api/v1/tenant/", **bearer(f"{header}.{payload}.{signature}"))

    assert_problem(response, 401, "token rejected: Signature verification failed")


def test_tokens_are_refused_while_oidc_is_not_configured(client, issuer, tenant, settings):
    settings.OIDC_ISSUER = ""

    response = client.get("/api/v1/tenant/", **bearer(issuer.sign(issuer.claims(tenant="alpha"))))

    assert_problem(response, 401, "OIDC is not configured")
    assert issuer.jwks_fetches == 0


# --- key rotation and the refetch rate limit ---------------------------------------------

def test_rotated_key_is_picked_up_with_one_refetch(client, issuer, tenant, fake_clock):
    old_token = issuer.sign(issuer.claims(tenant="alpha"))
    assert client.get("/api/v1/tenant/", **bearer(old_token)).status_code == 200
    fake_clock.advance(PAST_REFETCH_INTERVAL)

    issuer.rotate()
    new_token = issuer.sign(issuer.claims(tenant="alpha"))

    assert client.get("/api/v1/tenant/", **bearer(new_token)).status_code == 200
    assert issuer.jwks_fetches == 2
    assert_problem(client.get("/api/v1/tenant/", **bearer(old_token)), 401)
    assert issuer.jwks_fetches == 2


def test_rotation_keeping_the_old_key_accepts_both(client, issuer, tenant, fake_clock):
    old_token = issuer.sign(issuer.claims(tenant="alpha"))
    assert client.get("/api/v1/tenant/", **bearer(old_token)).status_code == 200
    fake_clock.advance(PAST_REFETCH_INTERVAL)

    issuer.rotate(keep_old=True)
    new_token = issuer.sign(issuer.claims(tenant="alpha"))

    assert client.get("/api/v1/tenant/", **bearer(new_token)).status_code == 200
    assert client.get("/api/v1/tenant/", **bearer(old_token)).status_code == 200
    assert issuer.jwks_fetches == 2


def test_rotation_inside_the_refetch_interval_waits_for_it(client, issuer, tenant, fake_clock):
    assert client.get("/api/v1/tenant/", **bearer(issuer.sign(issuer.claims(tenant="alpha")))).status_code == 200
    issuer.rotate()
    new_token = issuer.sign(issuer.claims(tenant="alpha"))

    refused = client.get("/api/v1/tenant/", **bearer(new_token))
    fake_clock.advance(PAST_REFETCH_INTERVAL)
    accepted = client.get("/api/v1/tenant/", **bearer(new_token))

    assert_problem(refused, 401, f"unknown signing key id '{issuer.current_kid}'")
    assert accepted.status_code == 200
    assert issuer.jwks_fetches == 2


def test_burst_of_unknown_kids_causes_at_most_one_refetch(client, issuer, tenant, fake_clock):
    assert client.get("/api/v1/tenant/", **bearer(issuer.sign(issuer.claims(tenant="alpha")))).status_code == 200
    fake_clock.advance(PAST_REFETCH_INTERVAL)
    claims = issuer.claims(tenant="alpha")

    responses = [client.get("/api/v1/tenant/",
                            **bearer(issuer.sign_with_unpublished_key(claims, kid=f"random-{n}")))
                 for n in range(30)]

    assert all(r.status_code == 401 for r in responses)
    assert issuer.jwks_fetches == 2


def test_issuer_outage_is_401_and_failed_fetches_are_rate_limited(client, issuer, tenant, fake_clock):
    issuer.failing_status = 503
    token = issuer.sign(issuer.claims(tenant="alpha"))

    first = client.get("/api/v1/tenant/", **bearer(token))
    burst = [client.get("/api/v1/tenant/", **bearer(token)) for _ in range(10)]

    assert_problem(first, 401, "cannot fetch the issuer's JWKS: HTTPStatusError")
    assert all(r.status_code == 401 for r in burst)
    assert issuer.jwks_fetches == 1

    issuer.failing_status = None
    fake_clock.advance(PAST_REFETCH_INTERVAL)
    assert client.get("/api/v1/tenant/", **bearer(token)).status_code == 200
    assert issuer.jwks_fetches == 2


def test_last_good_keys_serve_while_the_issuer_is_down(client, issuer, tenant, settings, fake_clock):
    token = issuer.sign(issuer.claims(tenant="alpha"))
    assert client.get("/api/v1/tenant/", **bearer(token)).status_code == 200
    fake_clock.advance(settings.OIDC_JWKS_CACHE_SECONDS + 1)
    issuer.failing_status = 503

    response = client.get("/api/v1/tenant/", **bearer(token))

    assert response.status_code == 200
    assert issuer.jwks_fetches == 2


def test_expired_cache_is_refreshed(client, issuer, tenant, settings, fake_clock):
    token = issuer.sign(issuer.claims(tenant="alpha"))
    assert client.get("/api/v1/tenant/", **bearer(token)).status_code == 200
    fake_clock.advance(settings.OIDC_JWKS_CACHE_SECONDS + 1)
    issuer.rotate()

    assert_problem(client.get("/api/v1/tenant/", **bearer(token)), 401)
    assert issuer.jwks_fetches == 2


# --- roles and scopes -----------------------------------------------------------------------

def test_role_without_scopes_can_read_the_tenant_but_not_write(client, issuer, tenant):
    token = issuer.sign(issuer.claims(tenant="alpha", roles=["offline_access"]))

    read = client.get("/api/v1/tenant/", **bearer(token))
    write = client.post("/api/v1/keys/", {"name": "x", "scopes": ["*"]},
                        content_type="application/json", **bearer(token))

    assert read.status_code == 200
    assert_problem(write, 403, "this endpoint needs the 'keys:write' scope")
    assert ApiKey.objects.filter(tenant=tenant).count() == 0


@pytest.mark.parametrize("realm_access", [["hub-admin"], "hub-admin", {"roles": "hub-admin"}, None])
def test_malformed_role_claim_grants_nothing(client, issuer, tenant, realm_access):
    token = issuer.sign(issuer.claims(tenant="alpha", realm_access=realm_access))

    response = client.post("/api/v1/keys/", {"name": "x", "scopes": ["*"]},
                           content_type="application/json", **bearer(token))

    assert_problem(response, 403, "this endpoint needs the 'keys:write' scope")


def test_reader_role_can_list_keys_but_not_create_one(client, issuer, tenant):
    api_key_create(tenant=tenant, name="existing", scopes=["*"])
    token = issuer.sign(issuer.claims(tenant="alpha", roles=["hub-reader"]))

    listed = client.get("/api/v1/keys/", **bearer(token))
    created = client.post("/api/v1/keys/", {"name": "x", "scopes": ["*"]},
                          content_type="application/json", **bearer(token))

    assert listed.status_code == 200
    assert [row["name"] for row in listed.json()["results"]] == ["existing"]
    assert_problem(created, 403, "this endpoint needs the 'keys:write' scope")
    assert ApiKey.objects.filter(tenant=tenant).count() == 1


def test_admin_role_creates_a_key_in_the_tokens_tenant(client, issuer, tenant, other_tenant):
    token = issuer.sign(issuer.claims(tenant="beta", roles=["hub-admin"]))

    response = client.post("/api/v1/keys/", {"name": "from-oidc", "scopes": ["keys:read"]},
                           content_type="application/json", **bearer(token))

    assert response.status_code == 201
    created = ApiKey.objects.get(pk=response.json()["id"])
    assert created.tenant == other_tenant
    assert created.scopes == ["keys:read"]


def test_roles_map_through_the_configured_table(client, issuer, tenant, settings):
    settings.OIDC_ROLE_SCOPES = {"club-keys": ["keys:read"]}
    token = issuer.sign(issuer.claims(tenant="alpha", roles=["club-keys", "hub-admin"]))

    listed = client.get("/api/v1/keys/", **bearer(token))
    created = client.post("/api/v1/keys/", {"name": "x", "scopes": ["*"]},
                          content_type="application/json", **bearer(token))

    assert listed.status_code == 200
    assert_problem(created, 403, "this endpoint needs the 'keys:write' scope")
