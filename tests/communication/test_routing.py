"""Routing and fallback through the generic endpoints: Swedish numbers by 46elks, others by
Twilio; 46elks -> Twilio and SendGrid -> Mailgun when the first fails retriably or its breaker
is open; a permanent failure is never retried elsewhere."""

import pytest

from adapters import resilience
from communication.models import DeliveryAttempt, EmailMessage, SmsMessage
from communication.services.routing import NoRoute, phone_normalise, sms_route
from integrations.errors import ApplicationError
from tests.communication.helpers_mail import (
    BASE,
    active_config,
    create_config,
    elks_body,
    mailgun_body,
    sendgrid_body,
    twilio_body,
)

EMAIL = {"to": [{"email": "anna@club.example"}], "subject": "Hej", "body_text": "Hej Anna"}


def _post(api, capture, path: str, body: dict):
    with capture(execute=True):
        return api.post(f"{BASE}/{path}", body, format="json")


def _outcomes(message_id) -> list[tuple[str, str]]:
    return list(
        DeliveryAttempt.objects.filter(message_id=message_id)
        .order_by("created_at")
        .values_list("provider", "outcome")
    )


def _breakers_open_after(failures: int) -> None:
    resilience.configure(
        redis_url=None,
        fail_max=failures,
        reset_timeout=600,
        retry_policy=resilience.RetryPolicy(initial_wait=0.001, max_wait=0.01),
    )


@pytest.fixture
def sms_configs(api, elks_sandbox, twilio_sandbox):
    return (
        active_config(api, "elks", elks_body(api, elks_sandbox)),
        active_config(
            api, "twilio", twilio_body(api, twilio_sandbox, supported_countries=["SE", "NO"])
        ),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "to, provider, route_length",
    [("0701234567", "elks46", 2), ("+46 70 123 45 67", "elks46", 2), ("+4791234567", "twilio", 1)],
)
def test_swedish_numbers_go_through_46elks_and_others_through_twilio(
    api,
    sms_configs,
    elks_sandbox,
    twilio_sandbox,
    django_capture_on_commit_callbacks,
    to,
    provider,
    route_length,
):
    response = _post(api, django_capture_on_commit_callbacks, "sms/", {"to": to, "body": "Hej"})

    assert response.status_code == 202
    assert len(response.json()["route"]) == route_length
    message = SmsMessage.objects.get()
    assert (message.status, message.provider) == ("sent", provider)
    assert (len(elks_sandbox.sent), len(twilio_sandbox.messages)) == (
        (1, 0) if provider == "elks46" else (0, 1)
    )


@pytest.mark.django_db
def test_a_country_twilio_does_not_serve_has_no_route(api, sms_configs):
    response = api.post(f"{BASE}/sms/", {"to": "+358401234567", "body": "Moi"}, format="json")

    assert response.status_code == 422
    assert response.json()["code"] == "no_route"
    assert response.json()["errors"] == {"to": ["no active config sends SMS to FI"]}
    assert not SmsMessage.objects.exists()


@pytest.mark.django_db
def test_an_invalid_number_is_a_400_before_routing(api, sms_configs):
    response = api.post(f"{BASE}/sms/", {"to": "070-12", "body": "Hej"}, format="json")

    assert response.status_code == 400 and "to" in response.json()["errors"]
    assert not SmsMessage.objects.exists()


@pytest.mark.django_db
def test_46elks_failing_retriably_falls_back_to_twilio(
    api, sms_configs, elks_sandbox, twilio_sandbox, django_capture_on_commit_callbacks
):
    elks_sandbox.go_down()

    response = _post(
        api, django_capture_on_commit_callbacks, "sms/", {"to": "+46701234567", "body": "Hej"}
    )

    message = SmsMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.provider, message.attempts) == ("sent", "twilio", 1)
    assert str(message.config_id) == sms_configs[1]["id"]
    assert message.provider_message_id == twilio_sandbox.messages[0]["sid"]
    assert _outcomes(message.pk) == [("elks46", "retryable_error")] * 3 + [("twilio", "sent")]
    detail = api.get(f"{BASE}/sms/{message.pk}/").json()
    assert detail["provider"] == "twilio"
    assert [a["provider"] for a in detail["delivery_attempts"]] == ["elks46"] * 3 + ["twilio"]


@pytest.mark.django_db
def test_an_open_46elks_breaker_sends_through_twilio_without_calling_46elks(
    api, sms_configs, elks_sandbox, twilio_sandbox, django_capture_on_commit_callbacks
):
    _breakers_open_after(3)
    elks_sandbox.go_down(refuse_connections=False)  # 503 to everything
    first = _post(
        api, django_capture_on_commit_callbacks, "sms/", {"to": "+46701234567", "body": "1"}
    ).json()
    elks_requests = elks_sandbox.request_count

    second = _post(
        api, django_capture_on_commit_callbacks, "sms/", {"to": "+46701234567", "body": "2"}
    ).json()

    assert elks_sandbox.request_count == elks_requests  # the breaker refused without a request
    assert _outcomes(first["id"]) == [("elks46", "retryable_error")] * 3 + [("twilio", "sent")]
    assert _outcomes(second["id"]) == [("elks46", "circuit_open"), ("twilio", "sent")]
    assert SmsMessage.objects.get(pk=second["id"]).provider == "twilio"
    assert [m["Body"] for m in twilio_sandbox.messages] == ["1", "2"]


@pytest.mark.django_db
def test_a_permanent_46elks_failure_is_not_retried_through_twilio(
    api, sms_configs, elks_sandbox, twilio_sandbox, django_capture_on_commit_callbacks
):
    elks_sandbox.fail_next(1, status=400, body="Invalid to number", headers={})

    response = _post(
        api, django_capture_on_commit_callbacks, "sms/", {"to": "+46701234567", "body": "Hej"}
    )

    message = SmsMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.provider) == ("failed", "")
    assert _outcomes(message.pk) == [("elks46", "permanent_error")]
    assert twilio_sandbox.messages == []


@pytest.mark.django_db
def test_when_both_sms_providers_fail_the_task_retries_the_route_from_the_start(
    api, sms_configs, elks_sandbox, twilio_sandbox, django_capture_on_commit_callbacks
):
    _breakers_open_after(100)
    elks_sandbox.fail_next(3, status=503, headers={})
    twilio_sandbox.fail_next(3, status=503, headers={})

    response = _post(
        api, django_capture_on_commit_callbacks, "sms/", {"to": "+46701234567", "body": "Hej"}
    )

    message = SmsMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.provider, message.attempts) == ("sent", "elks46", 2)
    assert _outcomes(message.pk) == (
        [("elks46", "retryable_error")] * 3
        + [("twilio", "retryable_error")] * 3
        + [("elks46", "sent")]
    )


@pytest.mark.django_db
def test_a_paused_46elks_is_passed_over_for_an_active_twilio(
    api, sms_configs, elks_sandbox, twilio_sandbox, django_capture_on_commit_callbacks
):
    api.post(f"{BASE}/elks/configs/{sms_configs[0]['id']}/pause/")

    response = _post(
        api, django_capture_on_commit_callbacks, "sms/", {"to": "+46701234567", "body": "Hej"}
    )

    message = SmsMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.provider) == ("sent", "twilio")
    assert _outcomes(message.pk) == [("elks46", "skipped"), ("twilio", "sent")]
    assert elks_sandbox.sent == []


@pytest.mark.django_db
def test_sendgrid_failing_retriably_falls_back_to_mailgun(
    api, sendgrid_sandbox, mailgun_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    mailgun = active_config(api, "mailgun", mailgun_body(api, mailgun_sandbox))
    sendgrid_sandbox.fail_next(3, status=500, headers={})

    response = _post(api, django_capture_on_commit_callbacks, "emails/", EMAIL)

    message = EmailMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.provider, str(message.config_id)) == (
        "sent",
        "mailgun",
        mailgun["id"],
    )
    assert message.provider_message_id == mailgun_sandbox.messages[0]["id"].strip("<>")
    assert _outcomes(message.pk) == [("sendgrid", "retryable_error")] * 3 + [("mailgun", "sent")]
    assert sendgrid_sandbox.mails == []


@pytest.mark.django_db
def test_an_open_sendgrid_breaker_sends_through_mailgun(
    api, sendgrid_sandbox, mailgun_sandbox, django_capture_on_commit_callbacks
):
    _breakers_open_after(2)
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    active_config(api, "mailgun", mailgun_body(api, mailgun_sandbox))
    sendgrid_sandbox.go_down()
    _post(api, django_capture_on_commit_callbacks, "emails/", EMAIL)
    sendgrid_sandbox.come_back()

    response = _post(api, django_capture_on_commit_callbacks, "emails/", EMAIL)

    assert _outcomes(response.json()["id"]) == [("sendgrid", "circuit_open"), ("mailgun", "sent")]
    assert sendgrid_sandbox.mails == [] and len(mailgun_sandbox.messages) == 2


@pytest.mark.django_db
def test_a_permanent_sendgrid_rejection_is_not_retried_through_mailgun(
    api, sendgrid_sandbox, mailgun_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    active_config(api, "mailgun", mailgun_body(api, mailgun_sandbox))
    sendgrid_sandbox.fail_next(
        1,
        status=400,
        headers={},
        body={
            "errors": [
                {
                    "field": "personalizations.0.to.0.email",
                    "message": "Does not contain a valid address.",
                }
            ]
        },
    )

    response = _post(api, django_capture_on_commit_callbacks, "emails/", EMAIL)

    message = EmailMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.error_code) == ("failed", "ProviderRejected")
    assert _outcomes(message.pk) == [("sendgrid", "permanent_error")]
    assert mailgun_sandbox.messages == []


@pytest.mark.django_db
def test_a_provider_endpoint_never_falls_back(
    api, sendgrid_sandbox, mailgun_sandbox, settings, django_capture_on_commit_callbacks
):
    settings.TASK_MAX_RETRIES = 0
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    active_config(api, "mailgun", mailgun_body(api, mailgun_sandbox))
    sendgrid_sandbox.go_down()

    response = _post(api, django_capture_on_commit_callbacks, "sendgrid/emails/", EMAIL)

    assert EmailMessage.objects.get(pk=response.json()["id"]).status == "failed"
    assert mailgun_sandbox.messages == []


@pytest.mark.django_db
def test_email_routes_to_mailgun_alone_when_the_tenant_has_no_sendgrid(
    api, mailgun_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "mailgun", mailgun_body(api, mailgun_sandbox))

    response = _post(api, django_capture_on_commit_callbacks, "emails/", EMAIL)

    assert EmailMessage.objects.get(pk=response.json()["id"]).provider == "mailgun"


@pytest.mark.django_db
def test_without_any_email_config_there_is_no_route(api, sendgrid_sandbox):
    create_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))  # a draft does not route

    response = api.post(f"{BASE}/emails/", EMAIL, format="json")

    assert response.status_code == 422 and response.json()["code"] == "no_route"
    assert not EmailMessage.objects.exists()


@pytest.mark.django_db
def test_the_generic_email_endpoint_refuses_a_config_field(api, sendgrid_sandbox):
    config = active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))

    response = api.post(f"{BASE}/emails/", EMAIL | {"config": config["id"]}, format="json")

    assert response.status_code == 400 and "config" in response.json()["errors"]


@pytest.mark.django_db
def test_the_routing_service_is_what_the_fan_out_calls(tenant, api, elks_sandbox, twilio_sandbox):
    active_config(api, "elks", elks_body(api, elks_sandbox))
    active_config(api, "twilio", twilio_body(api, twilio_sandbox, supported_countries=["NO"]))

    swedish, swedish_route = sms_route(tenant=tenant, to="070 123 45 67")
    norwegian, norwegian_route = sms_route(tenant=tenant, to="+47 912 34 567")

    assert (swedish.e164, swedish.region, [c.provider for c in swedish_route]) == (
        "+46701234567",
        "SE",
        ["elks46"],
    )
    assert (norwegian.e164, [c.provider for c in norwegian_route]) == ("+4791234567", ["twilio"])
    with pytest.raises(NoRoute):
        sms_route(tenant=tenant, to="+4915112345678")


@pytest.mark.parametrize(
    "raw, default, expected",
    [
        ("+46701234567", None, "+46701234567"),
        ("070-123 45 67", "+46", "+46701234567"),
        ("(070) 123.45.67", "+46", "+46701234567"),
        ("0046701234567", "+46", "+46701234567"),
        ("912 34 567", "+47", "+4791234567"),
        ("+1 201 555 0123", "+46", "+12015550123"),
    ],
)
def test_phone_numbers_normalise_to_e164(raw, default, expected):
    assert phone_normalise(raw, default_country_code=default).e164 == expected


@pytest.mark.parametrize(
    "raw, default",
    [
        ("0701234567", None),
        ("+4670", "+46"),
        ("+46 70 ABC", "+46"),
        ("", "+46"),
        ("+" + "1" * 40, None),
        ("+999123456789", None),
    ],
)
def test_bad_phone_numbers_are_refused_with_a_field_error(raw, default):
    with pytest.raises(ApplicationError) as refused:
        phone_normalise(raw, default_country_code=default)

    assert refused.value.status == 400
    assert list(refused.value.extra["errors"]) == ["to"]


@pytest.mark.django_db
def test_a_sendgrid_config_over_its_quota_hands_email_to_mailgun(
    api, sendgrid_sandbox, mailgun_sandbox, django_capture_on_commit_callbacks
):
    active_config(
        api, "sendgrid", sendgrid_body(api, sendgrid_sandbox, quota_limit=2, quota_period="day")
    )
    active_config(api, "mailgun", mailgun_body(api, mailgun_sandbox))

    # The validation call and the first send use the quota of two; the second send may not.
    first = _post(api, django_capture_on_commit_callbacks, "emails/", EMAIL).json()
    second = _post(api, django_capture_on_commit_callbacks, "emails/", EMAIL).json()

    assert _outcomes(first["id"]) == [("sendgrid", "sent")]
    assert _outcomes(second["id"]) == [("sendgrid", "skipped"), ("mailgun", "sent")]
    assert (
        "quota" in DeliveryAttempt.objects.get(message_id=second["id"], provider="sendgrid").error
    )
    assert len(sendgrid_sandbox.mails) == 1 and len(mailgun_sandbox.messages) == 1
