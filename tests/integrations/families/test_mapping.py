"""Mapping end to end: labelled keys with allowlists and budgets, validation of every key against
the Google Maps and Mapbox sandboxes, lifecycle, usage, and `mapping_geocode` refusing calls
outside a key's allowlist or budget before they reach the provider."""

import threading

import pytest
from django.db import connection

from integrations.errors import Conflict
from integrations.models import MappingIntegration, UsageDaily
from integrations.secrets.services import secret_store
from integrations.services.mapping import (
    KeyBudgetExhausted,
    OriginNotAllowed,
    mapping_geocode,
    mapping_key_usage,
)
from tests.sandboxes.google_maps import DEFAULT_API_KEY as GOOGLE_KEY
from tests.sandboxes.mapbox import DEFAULT_ACCESS_TOKEN as MAPBOX_TOKEN

BASE = "/api/v1/integrations/mapping"
PROVIDERS = {
    "google_maps": ("google_maps_sandbox", GOOGLE_KEY),
    "mapbox": ("mapbox_sandbox", MAPBOX_TOKEN),
}


def _secret(api, name, value) -> str:
    response = api.post("/api/v1/secrets/", {"name": name, "value": value}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["ref"]


def _body(api, provider="google_maps", **overrides) -> dict:
    secret = PROVIDERS[provider][1]
    return {
        "display_name": "Maps",
        "provider": provider,
        "geocoding": True,
        "api_keys": [
            {
                "label": "web",
                "key_ref": _secret(api, "maps-web", secret),
                "domain_allowlist": ["Maps.Example.org", "*.clubs.example.org."],
                "usage_budget": 1000,
            },
            {
                "label": "backend",
                "key_ref": _secret(api, "maps-backend", secret),
                "usage_budget": 50,
            },
        ],
    } | overrides


def _key(**overrides) -> dict:
    return {"label": "web", "key_ref": "local://maps-web", "usage_budget": 10} | overrides


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request):
    request.getfixturevalue(PROVIDERS[request.param][0])
    return request.param


@pytest.mark.django_db
def test_create_normalises_allowlists_and_never_returns_key_refs(api, google_maps_sandbox):
    response = api.post(f"{BASE}/", _body(api), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft"
    assert body["api_keys"] == [
        {
            "label": "web",
            "domain_allowlist": ["maps.example.org", "*.clubs.example.org"],
            "usage_budget": 1000,
        },
        {"label": "backend", "domain_allowlist": [], "usage_budget": 50},
    ]
    assert "local://maps-web" not in response.content.decode()
    assert MappingIntegration.objects.get().api_keys[0]["key_ref"] == "local://maps-web"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "api_keys, message",
    [
        ([], "Ensure this field has at least 1 elements."),
        ([_key(domain_allowlist=["https://maps.example.org"])], "without scheme or path"),
        ([_key(domain_allowlist=["maps.example.org/embed"])], "without scheme or path"),
        ([_key(domain_allowlist=["maps.example.org:8443"])], "without port"),
        (
            [_key(domain_allowlist=["maps.*.example.org"])],
            "'*' is allowed only as the whole leading label",
        ),
        ([_key(domain_allowlist=["*.org"])], "a wildcard needs a domain of at least two labels"),
        ([_key(domain_allowlist=["-bad-.example.org"])], "not a valid host name"),
        ([_key(usage_budget=0)], "Ensure this value is greater than or equal to 1."),
        ([_key(usage_budget="lots")], "A valid integer is required."),
        ([_key(), _key()], "labels must be unique; repeated: web"),
        ([_key(key_ref="AIzaSyInlinePastedKey0123456789")], None),
        ([_key(colour="red")], None),
        ("web", None),
    ],
)
def test_bad_keys_are_a_400_and_create_nothing(api, google_maps_sandbox, api_keys, message):
    _secret(api, "maps-web", GOOGLE_KEY)

    response = api.post(
        f"{BASE}/",
        {"display_name": "Maps", "provider": "google_maps", "api_keys": api_keys},
        format="json",
    )

    assert response.status_code == 400
    assert "api_keys" in response.json()["errors"]
    if message:
        assert message in str(response.json()["errors"]["api_keys"])
    assert not MappingIntegration.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override, field",
    [({}, "api_keys"), ({"tiles": True}, "tiles"), ({"provider": "osm"}, "provider")],
)
def test_missing_keys_unknown_fields_and_providers_are_refused(
    api, google_maps_sandbox, override, field
):
    response = api.post(
        f"{BASE}/", {"display_name": "Maps", "provider": "google_maps"} | override, format="json"
    )

    assert response.status_code == 400 and field in response.json()["errors"]


@pytest.mark.django_db
def test_validation_geocodes_with_every_key_then_the_lifecycle_runs(api, provider, request):
    sandbox = request.getfixturevalue(PROVIDERS[provider][0])
    created = api.post(f"{BASE}/", _body(api, provider), format="json").json()

    run = api.post(f"{BASE}/{created['id']}/validate/").json()
    steps = [
        api.post(f"{BASE}/{created['id']}/{action}/").status_code
        for action in ("activate", "pause", "resume", "decommission")
    ]
    illegal = api.post(f"{BASE}/{created['id']}/activate/")
    usage = api.get(f"{BASE}/{created['id']}/usage/").json()

    assert run["passed"] is True, run["message"]
    assert run["message"].startswith("2 key(s) 'web', 'backend': authenticated with")
    assert len(sandbox.requests) == 2 and all(r.status == 200 for r in sandbox.requests)
    assert steps == [200, 200, 200, 200]
    assert illegal.status_code == 409
    assert usage["totals"]["requests"] == 1  # one validation call, covering both keys


@pytest.mark.django_db
@pytest.mark.parametrize(
    "provider_name, reason",
    [
        ("google_maps", "key 'backend': REQUEST_DENIED: The provided API key is invalid."),
        ("mapbox", "key 'backend': mapbox answered 401 to GET /search/geocode/v6/forward: "),
    ],
)
def test_validation_names_the_key_the_provider_refused(api, request, provider_name, reason):
    request.getfixturevalue(PROVIDERS[provider_name][0])
    body = _body(api, provider_name)
    body["api_keys"][1]["key_ref"] = _secret(api, "maps-wrong", "wrong-key-0123456789")
    created = api.post(f"{BASE}/", body, format="json").json()

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert reason in run["message"]
    assert "wrong-key-0123456789" not in run["message"]


@pytest.mark.django_db
def test_validation_fails_when_the_provider_is_down(api, provider, request):
    sandbox = request.getfixturevalue(PROVIDERS[provider][0])
    created = api.post(f"{BASE}/", _body(api, provider), format="json").json()
    sandbox.go_down()

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert "key 'web':" in run["message"] and "ConnectError" in run["message"]


def _active(tenant, provider="google_maps", **fields) -> MappingIntegration:
    secret = PROVIDERS[provider][1]
    keys = [
        {
            "label": "web",
            "key_ref": secret_store(tenant=tenant, name="web", value=secret),
            "domain_allowlist": ["maps.example.org", "*.clubs.example.org"],
            "usage_budget": 2,
        },
        {
            "label": "spare",
            "key_ref": secret_store(tenant=tenant, name="spare", value=secret),
            "domain_allowlist": ["*.clubs.example.org"],
            "usage_budget": 1,
        },
    ]
    return MappingIntegration.objects.create(
        tenant=tenant,
        family="mapping",
        provider=provider,
        display_name="Maps",
        api_keys=keys,
        **({"status": "active"} | fields),
    )


@pytest.mark.django_db
def test_geocode_returns_the_best_match(tenant, provider):
    integration = _active(tenant, provider)

    result = mapping_geocode(
        integration=integration, address="Storgatan 1, Umeå", origin_host="maps.example.org"
    )
    nothing = mapping_geocode(
        integration=integration, address="Nowhere at all", origin_host="maps.example.org"
    )

    assert result.formatted_address == "Storgatan 1, Umeå"
    assert (
        -90 <= result.latitude <= 90
        and -180 <= result.longitude <= 180
        and result.provider_place_id
    )
    assert nothing is None
    assert mapping_key_usage(integration=integration, key_label="web") == 2
    assert sum(row.requests for row in UsageDaily.objects.filter(integration=integration)) == 2


@pytest.mark.django_db
def test_a_call_over_budget_is_refused_before_it_reaches_the_provider(tenant, google_maps_sandbox):
    integration = _active(tenant)

    for _ in range(2):
        mapping_geocode(
            integration=integration,
            address="Storgatan 1",
            key_label="web",
            origin_host="maps.example.org",
        )
    with pytest.raises(KeyBudgetExhausted) as refused:
        mapping_geocode(
            integration=integration,
            address="Storgatan 1",
            key_label="web",
            origin_host="maps.example.org",
        )

    assert refused.value.status == 429
    assert str(refused.value) == "the monthly usage budget of key 'web' is spent"
    assert len(google_maps_sandbox.requests) == 2
    assert mapping_key_usage(integration=integration, key_label="web") == 2


@pytest.mark.django_db
def test_the_next_allowed_key_takes_over_when_one_is_spent(tenant, google_maps_sandbox):
    integration = _active(tenant)

    labels_used = []
    for _ in range(3):
        mapping_geocode(
            integration=integration, address="Torget 3", origin_host="a.clubs.example.org"
        )
        labels_used.append(
            (
                mapping_key_usage(integration=integration, key_label="web"),
                mapping_key_usage(integration=integration, key_label="spare"),
            )
        )
    with pytest.raises(KeyBudgetExhausted, match="budget of every allowed key is spent"):
        mapping_geocode(
            integration=integration, address="Torget 3", origin_host="a.clubs.example.org"
        )

    assert labels_used == [(1, 0), (2, 0), (2, 1)]
    assert len(google_maps_sandbox.requests) == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "origin_host, key_label, message",
    [
        (
            "evil.example.com",
            None,
            (
                "origin 'evil.example.com' is not in the domain allowlist of any key of this "
                "integration"
            ),
        ),
        (
            "clubs.example.org",
            None,
            (
                "origin 'clubs.example.org' is not in the domain allowlist of any key of this "
                "integration"
            ),
        ),
        (None, "web", "a call without an origin host is not in the domain allowlist of key 'web'"),
        (
            "maps.example.org",
            "spare",
            "origin 'maps.example.org' is not in the domain allowlist of key 'spare'",
        ),
    ],
)
def test_an_origin_outside_the_allowlist_is_refused_without_a_call(
    tenant, google_maps_sandbox, origin_host, key_label, message
):
    integration = _active(tenant)

    with pytest.raises(OriginNotAllowed) as refused:
        mapping_geocode(
            integration=integration,
            address="Storgatan 1",
            key_label=key_label,
            origin_host=origin_host,
        )

    assert (refused.value.status, str(refused.value)) == (403, message)
    assert google_maps_sandbox.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, message",
    [
        ({"status": "paused"}, "the integration is paused, not active"),
        ({"geocoding": False}, "geocoding is turned off for this integration"),
    ],
)
def test_only_an_active_integration_with_geocoding_on_may_geocode(
    tenant, google_maps_sandbox, fields, message
):
    integration = _active(tenant, **fields)

    with pytest.raises(Conflict, match=message):
        mapping_geocode(
            integration=integration, address="Storgatan 1", origin_host="maps.example.org"
        )

    assert google_maps_sandbox.requests == []


@pytest.mark.django_db
def test_a_call_the_provider_refuses_still_counts_against_the_budget(tenant, google_maps_sandbox):
    integration = _active(tenant)
    google_maps_sandbox.api_keys.clear()

    with pytest.raises(Exception, match="REQUEST_DENIED"):
        mapping_geocode(
            integration=integration,
            address="Storgatan 1",
            key_label="web",
            origin_host="maps.example.org",
        )

    assert mapping_key_usage(integration=integration, key_label="web") == 1


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_never_overspend_a_budget(tenant, google_maps_sandbox):
    integration = _active(tenant)
    outcomes, barrier = [], threading.Barrier(8)

    def call():
        try:
            barrier.wait()
            mapping_geocode(
                integration=integration,
                address="Storgatan 1",
                key_label="web",
                origin_host="maps.example.org",
            )
            outcomes.append("ok")
        except KeyBudgetExhausted:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ok"] * 2 + ["refused"] * 6
    assert len(google_maps_sandbox.requests) == 2
