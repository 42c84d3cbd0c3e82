"""Endpoint and event APIs: validation, SSRF refusals at create and send time, events list,
detail and replay, tenant isolation."""
from __future__ import annotations

import json
import socket

import pytest

from integrations.events import event_emit
from tests.webhooks.signers import CASES_BY_KEY, make_config, signed_post
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.deliveries import outbox_fan_out

pytestmark = pytest.mark.django_db
ENDPOINTS = "/api/v1/webhooks/endpoints/"


def _resolving_to(monkeypatch, address: str):
    """DNS for every name answers `address`: the one test double here, because no hosts file
    or resolver on this machine can be pointed at a 10.x address for one test."""
    def fake_getaddrinfo(host, port, *args, **kwargs):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


@pytest.mark.parametrize(("url", "allow_private", "reason"), [
    ("http://127.0.0.1:9/hooks", False, "the URL must use https"),
    ("https://127.0.0.1/hooks", False, "resolves to a private, loopback, link-local or reserved address"),
    ("https://[::1]/hooks", False, "resolves to a private, loopback, link-local or reserved address"),
    ("https://169.254.169.254/latest/meta-data/", True, "resolves to a cloud metadata address"),
    ("https://[fd00:ec2::254]/", True, "resolves to a cloud metadata address"),
    ("https://[::ffff:169.254.169.254]/", True, "resolves to a cloud metadata address"),
    ("https://user:pass@hooks.example.org/", False, "the URL must not carry credentials"),
])
def test_unsafe_targets_are_refused_at_create(api, settings, url, allow_private, reason):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = allow_private

    response = api.post(ENDPOINTS, {"url": url, "event_types": ["*"]}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "webhook_target_refused"
    assert reason in response.json()["errors"]["url"][0]
    assert WebhookEndpoint.objects.count() == 0


def test_a_host_name_resolving_to_a_private_address_is_refused(api, monkeypatch):
    _resolving_to(monkeypatch, "10.20.30.40")

    response = api.post(ENDPOINTS, {"url": "https://hooks.partner.example/in", "event_types": ["*"]}, format="json")

    assert response.status_code == 400
    assert "hooks.partner.example" in response.json()["detail"]


def test_a_target_whose_dns_turns_private_is_refused_at_send_time(
        api, tenant, monkeypatch, django_capture_on_commit_callbacks):
    # given an endpoint created while its name resolved to a public address
    _resolving_to(monkeypatch, "93.184.216.34")
    created = api.post(ENDPOINTS, {"url": "https://hooks.partner.example/in", "event_types": ["*"]}, format="json")
    assert created.status_code == 201

    # when its DNS now answers a private address and an event is sent
    _resolving_to(monkeypatch, "10.0.0.5")
    event_emit(tenant_id=tenant.pk, event_type="payment.succeeded", data={})
    with django_capture_on_commit_callbacks(execute=True):
        outbox_fan_out()

    # then no connection is made and the delivery fails for good, saying why
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.last_error == "the host 'hooks.partner.example' resolves to a private, loopback, link-local " \
                                  "or reserved address"
    assert delivery.attempt_log.get().status_code is None


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "https://hooks.example.org/", "event_types": ["no.such.event"]}, "event_types"),
    ({"url": "https://hooks.example.org/", "event_types": []}, "event_types"),
    ({"url": "not a url", "event_types": ["*"]}, "url"),
    ({"url": "https://hooks.example.org/", "event_types": ["*"], "secret_ref": "local://x"}, "secret_ref"),
    ({"url": "https://hooks.example.org/", "event_types": ["*"], "signing_scheme": "v2"}, "signing_scheme"),
    ({"url": "https://hooks.example.org/", "event_types": ["*"], "rate_limit_per_second": 0},
     "rate_limit_per_second"),
])
def test_bad_endpoint_input_is_refused_with_field_errors(api, monkeypatch, body, field):
    _resolving_to(monkeypatch, "93.184.216.34")

    response = api.post(ENDPOINTS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert WebhookEndpoint.objects.count() == 0


def test_endpoint_update_and_delete(api, monkeypatch):
    _resolving_to(monkeypatch, "93.184.216.34")
    created = api.post(ENDPOINTS, {"url": "https://hooks.example.org/", "event_types": ["*"]}, format="json").json()
    WebhookEndpoint.objects.filter(pk=created["id"]).update(enabled=False, disabled_reason="the receiver answered 410 Gone")

    updated = api.patch(f"{ENDPOINTS}{created['id']}/", {"enabled": True, "event_types": ["payment.failed"]},
                        format="json").json()
    deleted = api.delete(f"{ENDPOINTS}{created['id']}/")

    assert (updated["enabled"], updated["disabled_reason"], updated["event_types"]) == (True, "", ["payment.failed"])
    assert deleted.status_code == 204
    assert WebhookEndpoint.objects.count() == 0


def test_endpoint_create_is_idempotent(api, monkeypatch):
    _resolving_to(monkeypatch, "93.184.216.34")
    body = {"url": "https://hooks.example.org/", "event_types": ["*"]}

    first = api.post(ENDPOINTS, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    second = api.post(ENDPOINTS, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert WebhookEndpoint.objects.count() == 1


def test_events_api_lists_filters_shows_and_replays_within_the_tenant(api, other_api, client, tenant):
    case = CASES_BY_KEY["generic"]  # two partner events of a type no handler is registered for
    config = make_config(tenant, case)
    signed_post(client, case, config, body=json.dumps([{"type": "partner.new_thing", "id": f"evt-{n}", "data": {}}
                                                       for n in (1, 2)]).encode())

    listed = api.get("/api/v1/webhooks/events/", {"provider": "generic", "event_type": "unknown"}).json()
    first, second = listed["results"]
    detail = api.get(f"/api/v1/webhooks/events/{first['id']}/").json()
    replayed = api.post(f"/api/v1/webhooks/events/{first['id']}/replay/", {}, format="json")

    assert detail["vendor_type"] == "partner.new_thing" and detail["status"] == "received"
    assert replayed.status_code == 200 and replayed.json()["status"] == "ignored"  # nobody handles it
    assert [e["id"] for e in api.get("/api/v1/webhooks/events/", {"status": "received"}).json()["results"]] \
        == [second["id"]]
    assert api.get("/api/v1/webhooks/events/", {"status": "bogus"}).status_code == 400
    assert other_api.get(f"/api/v1/webhooks/events/{first['id']}/").status_code == 404
    assert other_api.get("/api/v1/webhooks/events/").json()["results"] == []


def test_the_webhooks_scope_is_required(api_for, tenant):
    reader = api_for(tenant, scopes=("integrations:read",))

    assert reader.get("/api/v1/webhooks/events/").status_code == 403
    assert reader.get(ENDPOINTS).status_code == 403
