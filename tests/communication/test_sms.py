"""SMS through 46elks and Twilio against their sandboxes (46elks checked against its docs,
Twilio against its published description): what is sent, cost, numbers, retries, permanent
failures, dry runs, lists, isolation and bad input."""

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from communication.models import DeliveryAttempt, ElksConfig, SmsMessage
from integrations.models import DeadLetter
from integrations.secrets.services import secret_resolve
from tests.communication.helpers_mail import BASE, active_config, elks_body, twilio_body


def _post(api, capture, path: str, body: dict):
    with capture(execute=True):
        return api.post(f"{BASE}/{path}", body, format="json")


def _outcomes(message_id) -> list[tuple[str, str]]:
    return list(
        DeliveryAttempt.objects.filter(message_id=message_id)
        .order_by("created_at")
        .values_list("provider", "outcome")
    )


@pytest.mark.django_db
def test_46elks_sends_a_form_with_basic_auth_and_its_cost_in_currency_units(
    api, tenant, elks_sandbox, django_capture_on_commit_callbacks
):
    config = active_config(api, "elks", elks_body(api, elks_sandbox))

    response = _post(
        api,
        django_capture_on_commit_callbacks,
        "elks/sms/",
        {"to": "070-123 45 67", "body": "Träning inställd ikväll. Mvh €-laget"},
    )

    assert response.status_code == 202
    assert (response.json()["status"], response.json()["to"]) == ("queued", "+46701234567")
    message = SmsMessage.objects.get()
    [sent] = elks_sandbox.sent
    send_request = [r for r in elks_sandbox.requests if r.path == "/a1/sms"][0]
    assert send_request.content_type == "application/x-www-form-urlencoded"
    assert send_request.headers["authorization"].startswith("Basic ")
    assert (sent["from"], sent["to"], sent["message"]) == (
        "Federation",
        "+46701234567",
        "Träning inställd ikväll. Mvh €-laget",
    )
    token = secret_resolve(tenant=tenant, ref=ElksConfig.objects.get().webhook_token_ref)
    report = urlsplit(sent["whendelivered"])
    assert report.path == f"/webhooks/elks46/{config['id']}/"
    assert parse_qs(report.query) == {"token": [token]}
    assert "dryrun" not in sent
    assert (message.status, message.provider, message.provider_message_id) == (
        "sent",
        "elks46",
        sent["id"],
    )
    assert (message.cost_amount, message.cost_currency) == (Decimal("0.35"), "SEK")
    assert (message.encoding, message.segments, message.from_number) == ("GSM-7", 1, "Federation")
    assert _outcomes(message.pk) == [("elks46", "sent")]


@pytest.mark.django_db
def test_a_tenant_delivery_report_url_replaces_the_generated_one(
    api, elks_sandbox, django_capture_on_commit_callbacks
):
    active_config(
        api, "elks", elks_body(api, elks_sandbox, dlr_callback_url="https://club.example/dlr?k=1")
    )

    _post(
        api, django_capture_on_commit_callbacks, "elks/sms/", {"to": "+46701234567", "body": "Hej"}
    )

    assert elks_sandbox.sent[0]["whendelivered"] == "https://club.example/dlr?k=1"


@pytest.mark.django_db
def test_a_46elks_config_in_sandbox_mode_sends_a_dry_run(
    api, elks_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "elks", elks_body(api, elks_sandbox, sandbox_mode=True))

    _post(
        api, django_capture_on_commit_callbacks, "elks/sms/", {"to": "+46701234567", "body": "Hej"}
    )

    message = SmsMessage.objects.get()
    assert (message.status, message.provider_message_id, message.cost_amount) == ("sent", "", None)
    assert message.metadata["provider"]["estimated_cost"] == 3500
    assert elks_sandbox.sent == [] and elks_sandbox.dry_runs == 1


@pytest.mark.django_db
def test_twilio_sends_from_its_number_with_our_status_callback(
    api, twilio_sandbox, django_capture_on_commit_callbacks
):
    config = active_config(api, "twilio", twilio_body(api, twilio_sandbox))
    twilio_sandbox.price = "-0.00750"

    response = _post(
        api,
        django_capture_on_commit_callbacks,
        "twilio/sms/",
        {"to": "+47 912 34 567", "body": "Kampen er flyttet 🏒"},
    )

    message = SmsMessage.objects.get(pk=response.json()["id"])
    [sent] = twilio_sandbox.messages
    assert {k: v for k, v in sent.items() if k != "sid"} == {
        "To": "+4791234567",
        "From": "+12015550123",
        "Body": "Kampen er flyttet 🏒",
        "StatusCallback": f"http://127.0.0.1:8000/webhooks/twilio/{config['id']}/",
    }
    assert (message.status, message.provider, message.provider_message_id) == (
        "sent",
        "twilio",
        sent["sid"],
    )
    assert (message.cost_amount, message.cost_currency) == (Decimal("0.0075"), "USD")
    assert (message.encoding, message.segments) == ("UCS-2", 1)
    request = [r for r in twilio_sandbox.requests if r.method == "POST"][0]
    assert request.path == f"/2010-04-01/Accounts/{twilio_sandbox.account_sid}/Messages.json"


@pytest.mark.django_db
def test_twilio_sends_through_a_messaging_service_and_a_given_callback(
    api, twilio_sandbox, django_capture_on_commit_callbacks
):
    active_config(
        api,
        "twilio",
        twilio_body(
            api,
            twilio_sandbox,
            from_number="",
            messaging_service_sid="MG" + "a" * 32,
            status_callback_url="https://club.example/twilio",
        ),
    )

    _post(
        api, django_capture_on_commit_callbacks, "twilio/sms/", {"to": "+12015550188", "body": "Hi"}
    )

    [sent] = twilio_sandbox.messages
    assert (sent["MessagingServiceSid"], sent["StatusCallback"]) == (
        "MG" + "a" * 32,
        "https://club.example/twilio",
    )
    assert "From" not in sent
    message = SmsMessage.objects.get()
    assert (message.cost_amount, message.cost_currency) == (None, "")  # Twilio prices it later


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, body_for, sandbox_name, provider, to",
    [
        ("elks", elks_body, "elks_sandbox", "elks46", "+46701234567"),
        ("twilio", twilio_body, "twilio_sandbox", "twilio", "+4791234567"),
    ],
)
def test_a_retriable_failure_is_retried_then_succeeds(
    api, request, django_capture_on_commit_callbacks, slug, body_for, sandbox_name, provider, to
):
    sandbox = request.getfixturevalue(sandbox_name)
    active_config(api, slug, body_for(api, sandbox))
    sandbox.fail_next(4, status=502, headers={})  # three in-call tries, then the task's second run

    response = _post(
        api, django_capture_on_commit_callbacks, f"{slug}/sms/", {"to": to, "body": "Hej"}
    )

    message = SmsMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.provider, message.attempts) == ("sent", provider, 2)
    assert _outcomes(message.pk) == [(provider, "retryable_error")] * 4 + [(provider, "sent")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, body_for, sandbox_name, provider, to, refusal",
    [
        ("elks", elks_body, "elks_sandbox", "elks46", "+46701234567", "Invalid to number"),
        (
            "twilio",
            twilio_body,
            "twilio_sandbox",
            "twilio",
            "+4791234567",
            {
                "code": 21211,
                "message": "The 'To' number +4791234567 is not a valid phone number.",
                "status": 400,
                "more_info": "https://www.twilio.com/docs/errors/21211",
            },
        ),
    ],
)
def test_a_permanent_failure_fails_at_once(
    api,
    request,
    django_capture_on_commit_callbacks,
    slug,
    body_for,
    sandbox_name,
    provider,
    to,
    refusal,
):
    sandbox = request.getfixturevalue(sandbox_name)
    active_config(api, slug, body_for(api, sandbox))
    sandbox.fail_next(1, status=400, body=refusal, headers={})

    response = _post(
        api, django_capture_on_commit_callbacks, f"{slug}/sms/", {"to": to, "body": "Hej"}
    )

    message = SmsMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.attempts) == ("failed", 1)
    assert (
        "Invalid to number" if slug == "elks" else "not a valid phone number"
    ) in message.last_error
    assert _outcomes(message.pk) == [(provider, "permanent_error")]
    assert not DeadLetter.objects.exists()


@pytest.mark.django_db
def test_twilio_error_codes_are_kept(api, twilio_sandbox, django_capture_on_commit_callbacks):
    active_config(api, "twilio", twilio_body(api, twilio_sandbox))
    twilio_sandbox.fail_next(
        1,
        status=400,
        headers={},
        body={
            "code": 21610,
            "message": "Attempt to send to unsubscribed recipient",
            "status": 400,
            "more_info": "https://www.twilio.com/docs/errors/21610",
        },
    )

    _post(
        api, django_capture_on_commit_callbacks, "twilio/sms/", {"to": "+4791234567", "body": "Hej"}
    )

    assert SmsMessage.objects.get().error_code == "21610"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, to",
    [
        ("elks", "0701234567"),
        ("elks", "+46 70 123 45 67"),
        ("elks", "0046701234567"),
        ("twilio", "+46701234567"),
    ],
)
def test_numbers_are_stored_in_e164(
    api, elks_sandbox, twilio_sandbox, django_capture_on_commit_callbacks, slug, to
):
    body_for, sandbox = (
        (elks_body, elks_sandbox) if slug == "elks" else (twilio_body, twilio_sandbox)
    )
    active_config(api, slug, body_for(api, sandbox))

    response = _post(
        api, django_capture_on_commit_callbacks, f"{slug}/sms/", {"to": to, "body": "Hej"}
    )

    assert response.json()["to"] == "+46701234567"


@pytest.mark.django_db
def test_national_numbers_are_read_in_the_configs_default_country(
    api, elks_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "elks", elks_body(api, elks_sandbox, default_country_code="+47"))

    response = _post(
        api, django_capture_on_commit_callbacks, "elks/sms/", {"to": "912 34 567", "body": "Hei"}
    )

    assert response.json()["to"] == "+4791234567"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, override, field, status",
    [
        ("elks", {"to": "12345"}, "to", 400),
        ("elks", {"to": "+46 abc"}, "to", 400),
        ("elks", {"to": "1-800-FLOWERS"}, "to", 400),
        ("elks", {"to": "+4670123"}, "to", 400),
        ("elks", {"to": ""}, "to", 400),
        ("elks", {"to": 46701234567}, "to", 400),
        ("elks", {"body": ""}, "body", 400),
        ("elks", {"body": "x" * 1601}, "body", 400),
        ("elks", {"body": "nul\x00"}, "body", 400),
        ("elks", {"body": ["Hej"]}, "body", 400),
        ("elks", {"from": "Other"}, "from", 400),
        ("elks", {"config": "0"}, "config", 400),
        ("twilio", {"to": "0701234567"}, "to", 400),  # Twilio configs have no default country
        ("twilio", {"to": "+358401234567"}, "to", 422),  # Finland is not among its countries
    ],
)
def test_bad_input_is_a_4xx_and_stores_nothing(
    api, elks_sandbox, twilio_sandbox, slug, override, field, status
):
    body_for, sandbox = (
        (elks_body, elks_sandbox) if slug == "elks" else (twilio_body, twilio_sandbox)
    )
    active_config(api, slug, body_for(api, sandbox))
    requests_before = len(sandbox.requests)

    response = api.post(
        f"{BASE}/{slug}/sms/", {"to": "+46701234567", "body": "Hej"} | override, format="json"
    )

    assert response.status_code == status, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not SmsMessage.objects.exists()
    assert len(sandbox.requests) == requests_before


@pytest.mark.django_db
def test_the_longest_body_is_accepted_and_counted(
    api, elks_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "elks", elks_body(api, elks_sandbox))

    response = _post(
        api,
        django_capture_on_commit_callbacks,
        "elks/sms/",
        {"to": "+46701234567", "body": "å" * 1600},
    )

    assert response.status_code == 202
    assert (response.json()["encoding"], response.json()["segments"]) == ("GSM-7", 11)


@pytest.mark.django_db
def test_a_paused_46elks_config_holds_its_sms_until_resumed(
    api, elks_sandbox, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from communication.tasks import messages_requeue_stale

    config = active_config(api, "elks", elks_body(api, elks_sandbox))
    api.post(f"{BASE}/elks/configs/{config['id']}/pause/")
    _post(
        api, django_capture_on_commit_callbacks, "elks/sms/", {"to": "+46701234567", "body": "Hej"}
    )
    SmsMessage.objects.update(updated_at=timezone.now().replace(year=2000))

    held = messages_requeue_stale()["sms"]
    api.post(f"{BASE}/elks/configs/{config['id']}/resume/")
    with django_capture_on_commit_callbacks(execute=True):
        resumed = messages_requeue_stale()["sms"]

    assert (held["enqueued"], resumed["enqueued"]) == (0, 1)
    assert SmsMessage.objects.get().status == "sent"
    assert len(elks_sandbox.sent) == 1


@pytest.mark.django_db
def test_a_decommissioned_config_refuses_sms_with_409(api, twilio_sandbox):
    config = active_config(api, "twilio", twilio_body(api, twilio_sandbox))
    api.post(f"{BASE}/twilio/configs/{config['id']}/decommission/")

    response = api.post(
        f"{BASE}/twilio/sms/",
        {"to": "+4791234567", "body": "Hej", "config": config["id"]},
        format="json",
    )

    assert response.status_code == 409
    assert not SmsMessage.objects.exists()


@pytest.mark.django_db
def test_a_worker_that_died_before_dispatch_is_requeued_and_after_dispatch_is_not_sent_twice(
    api, elks_sandbox, settings, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from communication.services.inflight import DISPATCHED
    from communication.tasks import messages_requeue_stale

    config = active_config(api, "elks", elks_body(api, elks_sandbox))
    api.post(f"{BASE}/elks/configs/{config['id']}/pause/")
    for body in ("before", "after"):
        _post(
            api,
            django_capture_on_commit_callbacks,
            "elks/sms/",
            {"to": "+46701234567", "body": body},
        )
    api.post(f"{BASE}/elks/configs/{config['id']}/resume/")
    long_ago = timezone.now().replace(year=2000)
    SmsMessage.objects.update(status="sending", claimed_at=long_ago, updated_at=long_ago)
    after = SmsMessage.objects.get(body="after")
    after.metadata = after.metadata | {
        DISPATCHED: {"claim": long_ago.isoformat(), "config": config["id"]}
    }
    after.save(update_fields=["metadata"])

    with django_capture_on_commit_callbacks(execute=True):
        swept = messages_requeue_stale()["sms"]

    assert swept == {"enqueued": 1, "reclaimed": 1, "outcome_unknown": 1}
    assert SmsMessage.objects.get(body="before").status == "sent"
    assert (
        SmsMessage.objects.get(body="after").status,
        SmsMessage.objects.get(body="after").error_code,
    ) == ("failed", "outcome_unknown")
    assert [sms["message"] for sms in elks_sandbox.sent] == ["before"]


@pytest.mark.django_db
def test_lists_filter_and_the_detail_shows_attempts(
    api, elks_sandbox, twilio_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "elks", elks_body(api, elks_sandbox))
    active_config(api, "twilio", twilio_body(api, twilio_sandbox))
    first = _post(
        api, django_capture_on_commit_callbacks, "elks/sms/", {"to": "+46701234567", "body": "a"}
    ).json()
    twilio_sandbox.fail_next(1, status=400, headers={})
    second = _post(
        api, django_capture_on_commit_callbacks, "twilio/sms/", {"to": "+4791234567", "body": "b"}
    ).json()

    def ids(query: str) -> list[str]:
        response = api.get(f"{BASE}/sms/?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [second["id"], first["id"]]
    assert ids("status=failed") == [second["id"]]
    assert ids("provider=elks46") == [first["id"]]
    assert ids("to=%2B46701234567") == [first["id"]]
    assert ids("to=%2B47%20912%2034%20567") == [second["id"]]
    assert api.get(f"{BASE}/sms/?to=0701234567").status_code == 400
    assert api.get(f"{BASE}/sms/?provider=carrier-pigeon").status_code == 400
    detail = api.get(f"{BASE}/sms/{second['id']}/").json()
    assert [
        (a["provider"], a["outcome"], a["status_code"]) for a in detail["delivery_attempts"]
    ] == [("twilio", "permanent_error", 400)]


@pytest.mark.django_db
def test_sms_are_tenant_isolated(api, other_api, elks_sandbox, django_capture_on_commit_callbacks):
    active_config(api, "elks", elks_body(api, elks_sandbox))
    mine = _post(
        api, django_capture_on_commit_callbacks, "elks/sms/", {"to": "+46701234567", "body": "a"}
    ).json()

    assert other_api.get(f"{BASE}/sms/{mine['id']}/").status_code == 404
    assert other_api.get(f"{BASE}/sms/").json()["results"] == []
    assert (
        other_api.post(
            f"{BASE}/sms/", {"to": "+46701234567", "body": "a"}, format="json"
        ).status_code
        == 422
    )
    assert SmsMessage.objects.count() == 1
