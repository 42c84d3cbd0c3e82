import pytest

from integrations.lifecycle import (
    TRANSITIONS,
    USER_ACTIONS,
    Action,
    Status,
    TransitionNotAllowed,
    allowed_actions,
    target_status,
)
from integrations.models import LifecycleTransition
from tests.factories import payment_gateway
from integrations.models import OutboxEvent

LEGAL = [(a, s, t) for a in USER_ACTIONS for s, t in TRANSITIONS[a].items()]
ILLEGAL = [(a, s) for a in USER_ACTIONS for s in Status if s not in TRANSITIONS[a]]
BASE = "/api/v1/integrations/payment-gateways"


def test_the_table_has_the_documented_shape():
    assert target_status(Action.ACTIVATE, Status.DRAFT) == Status.ACTIVE
    assert target_status(Action.PAUSE, Status.ACTIVE) == Status.PAUSED
    assert target_status(Action.RESUME, Status.PAUSED) == Status.ACTIVE
    assert target_status(Action.FAIL, Status.ACTIVE) == Status.ERROR
    assert allowed_actions(Status.DECOMMISSIONED) == []
    assert allowed_actions(Status.DRAFT) == ["activate", "decommission"]
    with pytest.raises(TransitionNotAllowed, match="allowed: activate, decommission"):
        target_status(Action.PAUSE, Status.DRAFT)


@pytest.mark.django_db
@pytest.mark.parametrize("action, current, expected", LEGAL, ids=[f"{a}:{s}->{t}" for a, s, t in LEGAL])
def test_every_legal_transition_through_the_api(tenant, api, action, current, expected):
    integration = payment_gateway(tenant, status=current, validated=True)

    response = api.post(f"{BASE}/{integration.pk}/{action}/", {"reason": "test"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == expected
    record = LifecycleTransition.objects.get(integration=integration)
    assert (record.from_status, record.to_status, record.action, record.reason) == (current, expected, action, "test")
    assert record.actor.startswith("api-key/")


@pytest.mark.django_db
@pytest.mark.parametrize("action, current", ILLEGAL, ids=[f"{a}:{s}" for a, s in ILLEGAL])
def test_every_illegal_transition_is_409_naming_the_allowed_ones(tenant, api, action, current):
    integration = payment_gateway(tenant, status=current, validated=True)

    response = api.post(f"{BASE}/{integration.pk}/{action}/")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition"
    assert body["current_status"] == current
    assert body["allowed_actions"] == allowed_actions(current)
    integration.refresh_from_db()
    assert integration.status == current
    assert not LifecycleTransition.objects.filter(integration=integration).exists()


@pytest.mark.django_db
def test_activation_needs_a_passed_validation(tenant, api):
    integration = payment_gateway(tenant)

    response = api.post(f"{BASE}/{integration.pk}/activate/")

    assert response.status_code == 409
    assert response.json()["code"] == "validation_required"
    integration.refresh_from_db()
    assert integration.status == "draft"


@pytest.mark.django_db
def test_a_change_after_validation_makes_it_stale(tenant, api):
    integration = payment_gateway(tenant, validated=True)

    patched = api.patch(f"{BASE}/{integration.pk}/", {"merchant_account_id": "acct_2"}, format="json")
    response = api.post(f"{BASE}/{integration.pk}/activate/")

    assert patched.status_code == 200
    assert response.status_code == 409
    assert response.json()["code"] == "validation_required"


@pytest.mark.django_db
def test_resuming_from_error_needs_a_fresh_validation(tenant, api):
    integration = payment_gateway(tenant, status=Status.ERROR)

    assert api.post(f"{BASE}/{integration.pk}/resume/").status_code == 409


@pytest.mark.django_db
def test_the_audit_trail_is_listed_newest_first(tenant, api):
    integration = payment_gateway(tenant, validated=True)
    for action in ("activate", "pause", "resume", "decommission"):
        assert api.post(f"{BASE}/{integration.pk}/{action}/", {"reason": action}, format="json").status_code == 200

    rows = api.get(f"{BASE}/{integration.pk}/transitions/").json()["results"]

    assert [(r["from_status"], r["to_status"]) for r in rows] == [
        ("active", "decommissioned"), ("paused", "active"), ("active", "paused"), ("draft", "active")]
    assert [r["reason"] for r in rows] == ["decommission", "resume", "pause", "activate"]
    assert list(OutboxEvent.objects.filter(tenant=tenant).order_by("created_at").values_list("event_type", flat=True)) \
        == ["integration.activated", "integration.paused", "integration.activated", "integration.decommissioned"]


@pytest.mark.django_db
def test_a_decommissioned_integration_cannot_be_changed(tenant, api):
    integration = payment_gateway(tenant, status=Status.DECOMMISSIONED)

    response = api.patch(f"{BASE}/{integration.pk}/", {"display_name": "new"}, format="json")

    assert response.status_code == 409
    integration.refresh_from_db()
    assert integration.display_name == "Stripe (test)"


@pytest.mark.django_db
def test_repeated_credential_failures_move_an_active_integration_to_error(tenant, settings):
    from integrations.services.lifecycle import integration_record_credential_failure

    settings.CREDENTIAL_FAILURES_BEFORE_ERROR = 3
    integration = payment_gateway(tenant, status=Status.ACTIVE, validated=True)

    for _ in range(2):
        integration_record_credential_failure(integration_id=integration.pk, message="Invalid API Key provided")
    integration.refresh_from_db()
    assert integration.status == "active"
    integration_record_credential_failure(integration_id=integration.pk, message="Invalid API Key provided")

    integration.refresh_from_db()
    assert integration.status == "error"
    record = LifecycleTransition.objects.get(integration=integration)
    assert (record.actor, record.action) == ("system", "fail")
    assert "3 consecutive credential failures" in record.reason
