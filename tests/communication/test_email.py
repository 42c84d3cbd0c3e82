"""Email through SendGrid and Mailgun against spec-checking sandboxes: what is sent, retries,
permanent failures, dead letters, paused and decommissioned configs, lists, isolation and bad
input."""

import pytest
from django.utils import timezone

from communication.models import DeliveryAttempt, EmailMessage
from integrations.models import DeadLetter
from tests.communication.helpers_mail import BASE, active_config, mailgun_body, sendgrid_body

TWO = [{"email": "anna@club.example", "name": "Anna Svensson"}, {"email": "bo@Club.Example"}]
PLAIN = {
    "to": TWO,
    "subject": "Årsmöte",
    "body_text": "Välkommen!",
    "body_html": "<p>Välkommen!</p>",
}


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
def test_sendgrid_sends_one_personalization_per_recipient(
    api, sendgrid_sandbox, django_capture_on_commit_callbacks
):
    config = active_config(
        api,
        "sendgrid",
        sendgrid_body(
            api,
            sendgrid_sandbox,
            reply_to_email="office@club.example",
            enable_open_tracking=False,
            ip_pool_name="transactional",
        ),
    )

    response = _post(api, django_capture_on_commit_callbacks, "sendgrid/emails/", PLAIN)

    assert response.status_code == 202
    assert (response.json()["status"], response.json()["config"]) == ("queued", config["id"])
    message = EmailMessage.objects.get()
    [mail] = sendgrid_sandbox.mails
    assert (message.status, message.provider, message.provider_message_id) == (
        "sent",
        "sendgrid",
        mail["x_message_id"],
    )
    assert message.to == [
        {"email": "anna@club.example", "name": "Anna Svensson"},
        {"email": "bo@club.example", "name": ""},
    ]
    assert mail["personalizations"] == [
        {
            "to": [{"email": "anna@club.example", "name": "Anna Svensson"}],
            "custom_args": {"hub_message_id": str(message.pk)},
        },
        {"to": [{"email": "bo@club.example"}], "custom_args": {"hub_message_id": str(message.pk)}},
    ]
    assert mail["from"] == {"email": "noreply@federation.example", "name": "The Federation"}
    assert mail["reply_to"] == {"email": "office@club.example"}
    assert mail["subject"] == "Årsmöte"
    assert mail["content"] == [
        {"type": "text/plain", "value": "Välkommen!"},
        {"type": "text/html", "value": "<p>Välkommen!</p>"},
    ]
    assert mail["ip_pool_name"] == "transactional"
    assert mail["mail_settings"] == {"sandbox_mode": {"enable": False}}
    assert mail["tracking_settings"] == {
        "open_tracking": {"enable": False},
        "click_tracking": {"enable": True},
        "subscription_tracking": {"enable": False},
    }
    assert _outcomes(message.pk) == [("sendgrid", "sent")]
    assert message.attempts == 1 and message.sent_at is not None


@pytest.mark.django_db
def test_a_sendgrid_template_carries_its_data_per_recipient(
    api, sendgrid_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    body = {
        "to": TWO[:1],
        "subject": "Licens",
        "template_id": "d-0123456789abcdef",
        "template_data": {"first_name": "Anna", "items": [{"sport": "bandy"}]},
    }

    _post(api, django_capture_on_commit_callbacks, "sendgrid/emails/", body)

    [mail] = sendgrid_sandbox.mails
    assert mail["template_id"] == "d-0123456789abcdef"
    assert mail["personalizations"][0]["dynamic_template_data"] == {
        "first_name": "Anna",
        "items": [{"sport": "bandy"}],
    }
    assert "content" not in mail


@pytest.mark.django_db
def test_a_sendgrid_config_in_sandbox_mode_sends_in_sendgrids_sandbox_mode(
    api, sendgrid_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox, sandbox_mode=True))

    _post(api, django_capture_on_commit_callbacks, "sendgrid/emails/", PLAIN)

    message = EmailMessage.objects.get()
    assert (message.status, message.provider_message_id) == ("sent", "")
    assert (
        sendgrid_sandbox.mails == [] and sendgrid_sandbox.sandbox_sends == 2
    )  # validation and this send


@pytest.mark.django_db
def test_mailgun_sends_a_batch_and_stores_the_id_without_brackets(
    api, mailgun_sandbox, django_capture_on_commit_callbacks
):
    active_config(
        api,
        "mailgun",
        mailgun_body(
            api, mailgun_sandbox, from_name="Förbundet", enable_click_tracking=False, test_mode=True
        ),
    )

    response = _post(api, django_capture_on_commit_callbacks, "mailgun/emails/", PLAIN)

    message = EmailMessage.objects.get(pk=response.json()["id"])
    [sent] = mailgun_sandbox.messages
    assert message.provider_message_id == sent["id"].strip("<>")
    assert not message.provider_message_id.startswith("<")
    assert sent["fields"] == [
        ("from", "=?utf-8?q?F=C3=B6rbundet?= <noreply@mg.example.org>"),
        ("subject", "Årsmöte"),
        ("to", "Anna Svensson <anna@club.example>"),
        ("to", "bo@club.example"),
        (
            "recipient-variables",
            '{"anna@club.example": {"name": "Anna Svensson"}, "bo@club.example": {"name": ""}}',
        ),
        ("text", "Välkommen!"),
        ("html", "<p>Välkommen!</p>"),
        ("o:tracking", "yes"),
        ("o:tracking-clicks", "no"),
        ("v:hub_message_id", str(message.pk)),
        ("o:testmode", "yes"),
    ]
    assert mailgun_sandbox.requests[-1].headers["authorization"].startswith("Basic ")


@pytest.mark.django_db
def test_a_mailgun_template_goes_with_its_variables(
    api, mailgun_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "mailgun", mailgun_body(api, mailgun_sandbox))
    body = {
        "to": TWO[:1],
        "subject": "Licens",
        "template_id": "licence-renewal",
        "template_data": {"year": 2026},
    }

    _post(api, django_capture_on_commit_callbacks, "mailgun/emails/", body)

    fields = dict(mailgun_sandbox.messages[0]["fields"])
    assert (fields["template"], fields["t:variables"]) == ("licence-renewal", '{"year": 2026}')
    assert "text" not in fields and "recipient-variables" not in fields


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, body_for, sandbox_name",
    [("sendgrid", sendgrid_body, "sendgrid_sandbox"), ("mailgun", mailgun_body, "mailgun_sandbox")],
)
def test_a_retriable_failure_is_retried_then_succeeds(
    api, request, django_capture_on_commit_callbacks, slug, body_for, sandbox_name
):
    sandbox = request.getfixturevalue(sandbox_name)
    active_config(api, slug, body_for(api, sandbox))
    # Three in-call tries fail, the task retries, its second try passes. No Retry-After: a
    # provider asking for a longer wait than the in-call policy allows gets a task retry instead.
    sandbox.fail_next(4, status=503, headers={})

    response = _post(api, django_capture_on_commit_callbacks, f"{slug}/emails/", PLAIN)

    message = EmailMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.provider, message.attempts) == ("sent", slug, 2)
    assert _outcomes(message.pk) == [(slug, "retryable_error")] * 4 + [(slug, "sent")]
    assert (
        DeliveryAttempt.objects.filter(
            message_id=message.pk, outcome="retryable_error", status_code=503
        ).count()
        == 4
    )
    assert message.last_error == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, body_for, sandbox_name, refusal, reason",
    [
        (
            "sendgrid",
            sendgrid_body,
            "sendgrid_sandbox",
            {
                "errors": [
                    {
                        "field": "personalizations.0.to.0.email",
                        "message": "Does not contain a valid address.",
                    }
                ]
            },
            "Does not contain a valid address.",
        ),
        (
            "mailgun",
            mailgun_body,
            "mailgun_sandbox",
            {"message": "to parameter is not a valid address. please check documentation"},
            "to parameter is not a valid address",
        ),
    ],
)
def test_a_permanent_failure_fails_at_once_without_retry_or_dead_letter(
    api, request, django_capture_on_commit_callbacks, slug, body_for, sandbox_name, refusal, reason
):
    sandbox = request.getfixturevalue(sandbox_name)
    active_config(api, slug, body_for(api, sandbox))
    sandbox.fail_next(1, status=400, body=refusal)
    validations = len(sandbox.requests)

    response = _post(api, django_capture_on_commit_callbacks, f"{slug}/emails/", PLAIN)

    message = EmailMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.attempts, message.error_code) == (
        "failed",
        1,
        "ProviderRejected",
    )
    assert reason in message.last_error
    assert message.failed_at is not None
    assert _outcomes(message.pk) == [(slug, "permanent_error")]
    assert len(sandbox.requests) == validations + 1
    assert not DeadLetter.objects.exists()


@pytest.mark.django_db
def test_retries_run_out_into_a_dead_letter_that_replays(
    api, sendgrid_sandbox, settings, django_capture_on_commit_callbacks
):
    settings.TASK_MAX_RETRIES = 1
    from adapters import resilience

    # Six failures would open the default breaker (five); this test is about running out of retries.
    resilience.configure(
        redis_url=None,
        fail_max=100,
        reset_timeout=60,
        retry_policy=resilience.RetryPolicy(initial_wait=0.001, max_wait=0.01),
    )
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    sendgrid_sandbox.fail_next(6, status=500, headers={})  # two task runs of three in-call tries

    response = _post(api, django_capture_on_commit_callbacks, "sendgrid/emails/", PLAIN)

    message = EmailMessage.objects.get(pk=response.json()["id"])
    assert (message.status, message.attempts) == ("failed", 2)
    letter = api.get("/api/v1/dead-letters/").json()["results"][0]
    assert (letter["operation"], letter["subject_id"], letter["status"]) == (
        "email.send",
        str(message.pk),
        "pending",
    )

    with django_capture_on_commit_callbacks(execute=True):
        replayed = api.post(f"/api/v1/dead-letters/{letter['id']}/replay/").json()

    message.refresh_from_db()
    assert replayed["status"] == "replayed"
    assert (message.status, message.provider) == ("sent", "sendgrid")
    assert len(sendgrid_sandbox.mails) == 1


@pytest.mark.django_db
def test_a_paused_config_holds_its_email_until_resumed_and_the_beat_requeues_it(
    api, sendgrid_sandbox, django_capture_on_commit_callbacks
):
    config = active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    api.post(f"{BASE}/sendgrid/configs/{config['id']}/pause/")

    response = _post(
        api,
        django_capture_on_commit_callbacks,
        "sendgrid/emails/",
        PLAIN | {"config": config["id"]},
    )
    held = EmailMessage.objects.get()
    from communication.tasks import messages_requeue_stale

    EmailMessage.objects.update(updated_at=timezone.now().replace(year=2000))
    while_paused = messages_requeue_stale()
    api.post(f"{BASE}/sendgrid/configs/{config['id']}/resume/")
    with django_capture_on_commit_callbacks(execute=True):
        after_resume = messages_requeue_stale()

    assert response.status_code == 202
    assert (held.status, held.attempts) == ("queued", 0)
    assert while_paused["email"] == {"enqueued": 0, "reclaimed": 0, "outcome_unknown": 0}
    assert after_resume["email"] == {"enqueued": 1, "reclaimed": 0, "outcome_unknown": 0}
    assert EmailMessage.objects.get().status == "sent"
    assert len(sendgrid_sandbox.mails) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["decommission"])
def test_a_decommissioned_config_refuses_email_with_409(api, sendgrid_sandbox, action):
    config = active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    api.post(f"{BASE}/sendgrid/configs/{config['id']}/{action}/")

    named = api.post(f"{BASE}/sendgrid/emails/", PLAIN | {"config": config["id"]}, format="json")
    default = api.post(f"{BASE}/sendgrid/emails/", PLAIN, format="json")

    assert named.status_code == 409 and named.json()["config_status"] == "decommissioned"
    assert default.status_code == 422 and default.json()["code"] == "no_route"
    assert not EmailMessage.objects.exists()


@pytest.mark.django_db
def test_a_draft_config_refuses_email(api, sendgrid_sandbox):
    from tests.communication.helpers_mail import create_config

    config = create_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))

    response = api.post(f"{BASE}/sendgrid/emails/", PLAIN | {"config": config["id"]}, format="json")

    assert response.status_code == 409
    assert not EmailMessage.objects.exists()


@pytest.mark.django_db
def test_a_config_of_another_tenant_or_provider_is_not_found(
    api, other_api, sendgrid_sandbox, mailgun_sandbox
):
    theirs = active_config(other_api, "sendgrid", sendgrid_body(other_api, sendgrid_sandbox))
    mailgun = active_config(api, "mailgun", mailgun_body(api, mailgun_sandbox))

    foreign = api.post(f"{BASE}/sendgrid/emails/", PLAIN | {"config": theirs["id"]}, format="json")
    wrong_provider = api.post(
        f"{BASE}/sendgrid/emails/", PLAIN | {"config": mailgun["id"]}, format="json"
    )

    assert foreign.status_code == 404 and wrong_provider.status_code == 404
    assert not EmailMessage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override, field",
    [
        ({"to": []}, "to"),
        ({"to": "anna@club.example"}, "to"),
        ({"to": [{"email": "not-an-address"}]}, "to"),
        ({"to": [{"email": "anna@club.example", "cc": "x@club.example"}]}, "to"),
        ({"to": [{"email": f"m{i}@club.example"} for i in range(1001)]}, "to"),
        ({"to": [{"email": "anna@club.example"}, {"email": "ANNA@club.example"}]}, "to"),
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 999}, "subject"),
        ({"template_id": "d-123"}, "template_id"),
        ({"body_text": "", "body_html": ""}, "body_text"),
        ({"body_text": "x" * 200_001}, "body_text"),
        ({"template_data": {"a": 1}}, "template_data"),
        (
            {"body_text": "", "body_html": "", "template_id": "d-1", "template_data": ["a", "b"]},
            "template_data",
        ),
        (
            {
                "body_text": "",
                "body_html": "",
                "template_id": "d-1",
                "template_data": {"a": "nul\x00"},
            },
            "template_data",
        ),
        ({"idempotency_key": "k" * 256}, "idempotency_key"),
        ({"config": "not-a-uuid"}, "config"),
        ({"bcc": ["x@club.example"]}, "bcc"),
    ],
)
def test_bad_input_is_a_400_and_stores_nothing(api, sendgrid_sandbox, override, field):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    requests_before = len(sendgrid_sandbox.requests)

    response = api.post(f"{BASE}/sendgrid/emails/", PLAIN | override, format="json")

    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not EmailMessage.objects.exists()
    assert len(sendgrid_sandbox.requests) == requests_before


@pytest.mark.django_db
def test_a_non_json_body_is_a_4xx(api):
    response = api.post(
        f"{BASE}/emails/", "to=anna", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert not EmailMessage.objects.exists()


@pytest.mark.django_db
def test_lists_filter_and_the_detail_shows_attempts(
    api, sendgrid_sandbox, mailgun_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    active_config(api, "mailgun", mailgun_body(api, mailgun_sandbox))
    first = _post(api, django_capture_on_commit_callbacks, "sendgrid/emails/", PLAIN).json()
    mailgun_sandbox.fail_next(1, status=400, body={"message": "bad"})
    second = _post(
        api,
        django_capture_on_commit_callbacks,
        "mailgun/emails/",
        PLAIN | {"to": [{"email": "carl@club.example"}]},
    ).json()
    middle = EmailMessage.objects.get(pk=second["id"]).created_at

    def ids(query: str) -> list[str]:
        response = api.get(f"{BASE}/emails/?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [second["id"], first["id"]]
    assert ids("status=failed") == [second["id"]]
    assert ids("provider=sendgrid") == [first["id"]]
    assert ids("to=bo@club.example") == [first["id"]]
    assert ids("to=BO@CLUB.example") == [first["id"]]
    assert ids("to=o@club.example") == []
    assert ids(f"created_before={middle.isoformat().replace('+00:00', 'Z')}") == [first["id"]]
    assert ids(f"created_after={middle.isoformat().replace('+00:00', 'Z')}") == [second["id"]]
    assert api.get(f"{BASE}/emails/?status=lost").status_code == 400
    assert api.get(f"{BASE}/emails/?to=nobody").status_code == 400
    detail = api.get(f"{BASE}/emails/{first['id']}/").json()
    assert detail["status"] == "sent"
    assert [(a["provider"], a["outcome"]) for a in detail["delivery_attempts"]] == [
        ("sendgrid", "sent")
    ]


@pytest.mark.django_db
def test_emails_are_tenant_isolated(
    api, other_api, sendgrid_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    mine = _post(api, django_capture_on_commit_callbacks, "sendgrid/emails/", PLAIN).json()

    assert other_api.get(f"{BASE}/emails/{mine['id']}/").status_code == 404
    assert other_api.get(f"{BASE}/emails/").json()["results"] == []
    assert other_api.post(f"{BASE}/sendgrid/emails/", PLAIN, format="json").status_code == 422
    assert EmailMessage.objects.count() == 1


@pytest.mark.django_db
def test_the_recipient_filter_finds_an_internationalised_domain(
    api, sendgrid_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    sent = _post(
        api,
        django_capture_on_commit_callbacks,
        "sendgrid/emails/",
        PLAIN | {"to": [{"email": "asa@Förbund.example"}]},
    )

    found = api.get(f"{BASE}/emails/", {"to": "asa@förbund.example"}).json()["results"]

    assert sent.status_code == 202, sent.json()
    assert [row["id"] for row in found] == [sent.json()["id"]]
    assert found[0]["to"] == [{"email": "asa@förbund.example", "name": ""}]
