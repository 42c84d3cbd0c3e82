"""Idempotent sends: the same key and body give the same message and send nothing more, even
when 20 copies of one request arrive at once."""

import threading

import pytest
from django.db import connection

from communication.models import EmailMessage, SmsMessage
from communication.services.email import email_send
from communication.services.sms import sms_send
from tests.communication.helpers_mail import BASE, active_config, elks_body, sendgrid_body

EMAIL = {
    "to": [{"email": "anna@club.example"}],
    "subject": "Kallelse",
    "body_text": "Årsmöte 18:00",
}
SMS = {"to": "+46701234567", "body": "Årsmöte 18:00"}


def _post(api, capture, path: str, body: dict, **headers):
    with capture(execute=True):
        return api.post(f"{BASE}/{path}", body, format="json", **headers)


@pytest.mark.django_db
def test_the_same_key_and_body_return_the_same_email_and_send_once(
    api, sendgrid_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    body = EMAIL | {"idempotency_key": "kallelse-2026"}

    first = _post(api, django_capture_on_commit_callbacks, "emails/", body)
    again = _post(api, django_capture_on_commit_callbacks, "emails/", body)

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert EmailMessage.objects.get().idempotency_key == "kallelse-2026"
    assert len(sendgrid_sandbox.mails) == 1


@pytest.mark.django_db
def test_the_header_and_the_body_field_name_the_same_key(
    api, elks_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "elks", elks_body(api, elks_sandbox))

    by_header = _post(
        api, django_capture_on_commit_callbacks, "elks/sms/", SMS, HTTP_IDEMPOTENCY_KEY="sms-1"
    )
    by_field = _post(
        api, django_capture_on_commit_callbacks, "elks/sms/", SMS | {"idempotency_key": "sms-1"}
    )
    mismatch = api.post(
        f"{BASE}/elks/sms/",
        SMS | {"idempotency_key": "sms-2"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="sms-3",
    )

    assert by_field.json()["id"] == by_header.json()["id"]
    assert SmsMessage.objects.get().idempotency_key == "sms-1"
    assert len(elks_sandbox.sent) == 1
    assert mismatch.status_code == 400 and mismatch.json()["code"] == "idempotency_key_mismatch"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, other",
    [
        ("emails/", {"subject": "Ändrad kallelse"}),
        ("sendgrid/emails/", {}),  # the same body sent to another email endpoint is another request
    ],
)
def test_the_same_key_with_another_request_is_a_422_and_sends_nothing_more(
    api, sendgrid_sandbox, django_capture_on_commit_callbacks, path, other
):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    _post(api, django_capture_on_commit_callbacks, "emails/", EMAIL | {"idempotency_key": "k1"})

    response = _post(
        api, django_capture_on_commit_callbacks, path, EMAIL | other | {"idempotency_key": "k1"}
    )

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert EmailMessage.objects.count() == 1 and len(sendgrid_sandbox.mails) == 1


@pytest.mark.django_db
def test_email_and_sms_keys_are_separate(
    api, sendgrid_sandbox, elks_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    active_config(api, "elks", elks_body(api, elks_sandbox))

    email = _post(
        api, django_capture_on_commit_callbacks, "emails/", EMAIL | {"idempotency_key": "same"}
    )
    sms = _post(api, django_capture_on_commit_callbacks, "sms/", SMS | {"idempotency_key": "same"})

    assert (email.status_code, sms.status_code) == (202, 202)
    assert (len(sendgrid_sandbox.mails), len(elks_sandbox.sent)) == (1, 1)


@pytest.mark.django_db
def test_a_key_is_per_tenant(api, other_api, elks_sandbox, django_capture_on_commit_callbacks):
    active_config(api, "elks", elks_body(api, elks_sandbox))
    active_config(other_api, "elks", elks_body(other_api, elks_sandbox))

    mine = _post(api, django_capture_on_commit_callbacks, "sms/", SMS | {"idempotency_key": "k"})
    theirs = _post(
        other_api, django_capture_on_commit_callbacks, "sms/", SMS | {"idempotency_key": "k"}
    )

    assert mine.json()["id"] != theirs.json()["id"]
    assert SmsMessage.objects.count() == 2 and len(elks_sandbox.sent) == 2


@pytest.mark.django_db
def test_the_services_return_the_first_message_for_a_repeated_key(
    tenant, api, sendgrid_sandbox, elks_sandbox, django_capture_on_commit_callbacks
):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    active_config(api, "elks", elks_body(api, elks_sandbox))

    with django_capture_on_commit_callbacks(execute=True):
        emails = [
            email_send(
                tenant=tenant, to=EMAIL["to"], subject="s", body_text="b", idempotency_key="fan-1"
            )
            for _ in range(2)
        ]
        sms = [
            sms_send(tenant=tenant, to="0701234567", body="b", idempotency_key="fan-1")
            for _ in range(2)
        ]

    assert emails[0].pk == emails[1].pk and sms[0].pk == sms[1].pk
    assert (len(sendgrid_sandbox.mails), len(elks_sandbox.sent)) == (1, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path, body, kind", [("emails/", EMAIL, "email"), ("sms/", SMS, "sms")])
def test_twenty_concurrent_identical_requests_make_one_message_and_one_provider_call(
    api_for, tenant, sendgrid_sandbox, elks_sandbox, path, body, kind
):
    setup = api_for(tenant)
    active_config(setup, "sendgrid", sendgrid_body(setup, sendgrid_sandbox))
    active_config(setup, "elks", elks_body(setup, elks_sandbox))
    sendgrid_sandbox.delay(0.05)  # widen the window in which the first request is in flight
    elks_sandbox.delay(0.05)
    clients = [api_for(tenant) for _ in range(20)]
    start = threading.Barrier(len(clients))
    responses: list = [None] * len(clients)

    def send(index: int) -> None:
        try:
            start.wait()
            responses[index] = clients[index].post(
                f"{BASE}/{path}", body | {"idempotency_key": "one-request"}, format="json"
            )
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted({response.status_code for response in responses})
    accepted = {response.json()["id"] for response in responses if response.status_code == 202}
    model = EmailMessage if kind == "email" else SmsMessage
    provider_calls = len(sendgrid_sandbox.mails) if kind == "email" else len(elks_sandbox.sent)
    assert set(statuses) <= {202, 409}, statuses
    assert len(accepted) == 1
    assert model.objects.count() == 1
    assert model.objects.get().status == "sent"
    assert provider_calls == 1
    assert all(
        response.json()["code"] == "idempotency_key_in_flight"
        for response in responses
        if response.status_code == 409
    )
