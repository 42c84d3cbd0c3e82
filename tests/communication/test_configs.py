"""Provider configs at /api/v1/communication/<provider>/configs/: CRUD on the shared lifecycle,
field validation, refs never returned, pre-flight validation against the sandboxes, tenant
isolation."""

import pytest

from communication.models import (
    ElksConfig,
    FcmConfig,
    MailgunConfig,
    SendGridConfig,
    TwilioConfig,
    WhatsAppConfig,
)
from integrations.models import Integration, LifecycleTransition, LocalSecret, ValidationRun
from integrations.secrets.services import secret_resolve
from tests.communication.helpers_mail import (
    BASE,
    activate,
    create_config,
    elks_body,
    mailgun_body,
    secret,
    sendgrid_body,
    twilio_body,
)

MODELS = {
    "sendgrid": SendGridConfig,
    "mailgun": MailgunConfig,
    "elks": ElksConfig,
    "twilio": TwilioConfig,
    "fcm": FcmConfig,
    "whatsapp": WhatsAppConfig,
}


def _minimal_body(api, slug: str) -> dict:
    """A valid create body per provider, with refs to stored secrets."""
    ref = secret(api, f"{slug}-credential", "a-stored-credential-value")
    return {
        "sendgrid": {
            "display_name": "SG",
            "api_key_ref": ref,
            "from_email": "noreply@club.example",
        },
        "mailgun": {
            "display_name": "MG",
            "api_key_ref": ref,
            "domain": "mg.club.example",
            "from_email": "noreply@mg.club.example",
        },
        "elks": {
            "display_name": "Elks",
            "api_username_ref": ref,
            "api_password_ref": ref,
            "sender_id": "Club",
        },
        "twilio": {
            "display_name": "Twilio",
            "account_sid_ref": ref,
            "auth_token_ref": ref,
            "from_number": "+12015550123",
            "supported_countries": ["us", "NO", "US"],
        },
        "fcm": {
            "display_name": "Push",
            "service_account_json_ref": ref,
            "project_id": "club-app-1234",
        },
        "whatsapp": {
            "display_name": "WA",
            "access_token_ref": ref,
            "app_secret_ref": ref,
            "webhook_verify_token_ref": ref,
            "phone_number_id": "106540352242922",
            "display_phone_number": "+1 201-555-0123",
            "default_language_code": "sv",
        },
    }[slug]


@pytest.mark.django_db
@pytest.mark.parametrize("slug", list(MODELS))
def test_each_provider_creates_a_draft_config_and_never_returns_refs(api, slug):
    body = _minimal_body(api, slug)

    config = create_config(api, slug, body)

    row = MODELS[slug].objects.get(pk=config["id"])
    assert config["status"] == "draft"
    assert config["family"] == "communication"
    assert config["provider"] == row.provider
    assert config["allowed_actions"] == ["activate", "decommission"]
    assert not [name for name in config if name.endswith("_ref")]
    assert "a-stored-credential-value" not in str(config)
    assert set(config["credential_refs_set"]) >= {name for name in body if name.endswith("_ref")}


@pytest.mark.django_db
def test_fields_are_normalised(api):
    twilio = create_config(api, "twilio", _minimal_body(api, "twilio"))
    whatsapp = create_config(api, "whatsapp", _minimal_body(api, "whatsapp"))
    mailgun = create_config(
        api, "mailgun", _minimal_body(api, "mailgun") | {"domain": "MG.Club.Example."}
    )

    assert twilio["supported_countries"] == ["US", "NO"]
    assert whatsapp["display_phone_number"] == "+12015550123"
    assert mailgun["domain"] == "mg.club.example"
    assert mailgun["region"] == "eu"


@pytest.mark.django_db
def test_a_46elks_config_gets_a_generated_webhook_token_in_the_secret_store(api, tenant):
    config = create_config(api, "elks", _minimal_body(api, "elks"))

    row = ElksConfig.objects.get(pk=config["id"])
    assert row.webhook_token_ref == f"local://elks46-webhook-token-{row.pk}"
    assert len(secret_resolve(tenant=tenant, ref=row.webhook_token_ref)) >= 40
    assert "webhook_token_ref" in config["credential_refs_set"]
    assert config["webhook_url"].endswith(f"/webhooks/elks46/{row.pk}/")
    assert config["dlr_callback_url"] == ""


@pytest.mark.django_db
def test_webhook_urls_are_given_for_providers_that_post_back(api):
    configs = {
        slug: create_config(api, slug, _minimal_body(api, slug))
        for slug in ("sendgrid", "twilio", "fcm")
    }

    assert configs["sendgrid"]["webhook_url"].endswith(
        f"/webhooks/sendgrid/{configs['sendgrid']['id']}/"
    )
    assert configs["twilio"]["webhook_url"].endswith(f"/webhooks/twilio/{configs['twilio']['id']}/")
    assert configs["fcm"]["webhook_url"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, override, field",
    [
        ("sendgrid", {"from_email": "not-an-address"}, "from_email"),
        ("sendgrid", {"api_key_ref": "SG.pasted-secret-value"}, "api_key_ref"),
        ("sendgrid", {"api_key_ref": "local://never-stored"}, "api_key_ref"),
        ("sendgrid", {"ip_pool_name": "x"}, "ip_pool_name"),
        ("sendgrid", {"provider": "mailgun"}, "provider"),
        ("sendgrid", {"status": "active"}, "status"),
        ("sendgrid", {"colour": "blue"}, "colour"),
        ("sendgrid", {"capabilities": {"sms": True}}, "capabilities"),
        ("mailgun", {"region": "asia"}, "region"),
        ("mailgun", {"domain": "not a domain"}, "domain"),
        ("elks", {"sender_id": "TwelveLetter"}, "sender_id"),
        ("elks", {"sender_id": "Fed€ration"}, "sender_id"),
        ("elks", {"sender_id": "12345"}, "sender_id"),
        ("elks", {"sender_id": "+46 70"}, "sender_id"),
        ("elks", {"default_country_code": "+999"}, "default_country_code"),
        ("elks", {"default_country_code": "46"}, "default_country_code"),
        ("elks", {"dlr_callback_url": "ftp://example.org/dlr"}, "dlr_callback_url"),
        ("elks", {"webhook_token_ref": "local://mine"}, "webhook_token_ref"),
        ("twilio", {"messaging_service_sid": "MG" + "a" * 32}, "messaging_service_sid"),
        ("twilio", {"from_number": ""}, "messaging_service_sid"),
        ("twilio", {"from_number": "0701234567"}, "from_number"),
        ("twilio", {"supported_countries": ["XX"]}, "supported_countries"),
        ("twilio", {"supported_countries": []}, "supported_countries"),
        ("twilio", {"supported_countries": "SE"}, "supported_countries"),
        ("fcm", {"project_id": "Bad_Project"}, "project_id"),
        ("fcm", {"default_ttl_seconds": 99_999_999}, "default_ttl_seconds"),
        ("fcm", {"default_priority": "urgent"}, "default_priority"),
        ("whatsapp", {"default_language_code": "english"}, "default_language_code"),
        ("whatsapp", {"phone_number_id": "abc"}, "phone_number_id"),
        ("whatsapp", {"display_phone_number": "12345"}, "display_phone_number"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(api, slug, override, field):
    body = _minimal_body(api, slug) | override

    response = api.post(f"{BASE}/{slug}/configs/", body, format="json")

    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not Integration.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("sender", ["Federation", "SK Ölfjäll", "+46701234567"])
def test_46elks_takes_alphanumeric_senders_of_gsm_characters_and_e164_numbers(api, sender):
    config = create_config(api, "elks", _minimal_body(api, "elks") | {"sender_id": sender})

    assert config["sender_id"] == sender


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en_US", "en-US", "sv", "pt_BR", "zh-Hant-TW"])
def test_whatsapp_takes_bcp47_language_codes(api, language):
    config = create_config(
        api, "whatsapp", _minimal_body(api, "whatsapp") | {"default_language_code": language}
    )

    assert config["default_language_code"] == language


@pytest.mark.django_db
def test_twilio_update_keeps_exactly_one_sender(api):
    config = create_config(api, "twilio", _minimal_body(api, "twilio"))
    url = f"{BASE}/twilio/configs/{config['id']}/"

    both = api.patch(url, {"messaging_service_sid": "MG" + "0" * 32}, format="json")
    switched = api.patch(
        url, {"messaging_service_sid": "MG" + "0" * 32, "from_number": ""}, format="json"
    )

    assert both.status_code == 400 and "messaging_service_sid" in both.json()["errors"]
    assert switched.status_code == 200
    assert (switched.json()["messaging_service_sid"], switched.json()["from_number"]) == (
        "MG" + "0" * 32,
        "",
    )


@pytest.mark.django_db
def test_lifecycle_actions_usage_and_transitions_are_served_per_provider(api, sendgrid_sandbox):
    config = activate(
        api, "sendgrid", create_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    )
    url = f"{BASE}/sendgrid/configs/{config['id']}"

    paused = api.post(f"{url}/pause/", {"reason": "maintenance"}, format="json")
    resumed = api.post(f"{url}/resume/")
    decommissioned = api.post(f"{url}/decommission/")
    again = api.post(f"{url}/resume/")
    usage = api.get(f"{url}/usage/").json()
    transitions = api.get(f"{url}/transitions/").json()["results"]

    assert [r.json()["status"] for r in (paused, resumed, decommissioned)] == [
        "paused",
        "active",
        "decommissioned",
    ]
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    assert usage["totals"] == {
        "requests": 1,
        "errors": 0,
        "error_rate": 0.0,
        "avg_latency_ms": usage["totals"]["avg_latency_ms"],
    }
    assert [t["to_status"] for t in transitions] == ["decommissioned", "active", "paused", "active"]
    assert LifecycleTransition.objects.filter(integration_id=config["id"]).count() == 4
    assert api.patch(f"{url}/", {"from_name": "x"}, format="json").status_code == 409


@pytest.mark.django_db
def test_activation_needs_a_passed_validation(api):
    config = create_config(api, "sendgrid", _minimal_body(api, "sendgrid"))

    response = api.post(f"{BASE}/sendgrid/configs/{config['id']}/activate/")

    assert response.status_code == 409
    assert response.json()["code"] == "validation_required"


@pytest.mark.django_db
def test_sendgrid_validation_is_a_sandbox_mode_mail_send(api, sendgrid_sandbox):
    config = create_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))

    run = api.post(f"{BASE}/sendgrid/configs/{config['id']}/validate/").json()

    assert run["passed"] is True
    assert run["message"] == (
        "authenticated with SendGrid; a sandbox-mode send from noreply@federation.example "
        "was accepted"
    )
    [request] = sendgrid_sandbox.requests
    assert request.headers["authorization"] == f"Bearer {sendgrid_sandbox.api_key}"
    assert request.parsed_body["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert sendgrid_sandbox.mails == [] and sendgrid_sandbox.sandbox_sends == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, body_for, sandbox_name, break_it, reason",
    [
        (
            "sendgrid",
            sendgrid_body,
            "sendgrid_sandbox",
            {"api_key": "SG.rotated"},
            "SendGrid answered: SendGrid answered 401",
        ),
        (
            "mailgun",
            mailgun_body,
            "mailgun_sandbox",
            {"domains": set()},
            "Mailgun answered: mailgun answered 404",
        ),
        (
            "elks",
            elks_body,
            "elks_sandbox",
            {"password": "changed"},
            "46elks answered: elks46 answered 401",
        ),
        (
            "twilio",
            twilio_body,
            "twilio_sandbox",
            {"account_status": "suspended"},
            "Twilio answered: the Twilio account is suspended, not active",
        ),
    ],
)
def test_validation_fails_with_the_providers_reason(
    api, request, slug, body_for, sandbox_name, break_it, reason
):
    sandbox = request.getfixturevalue(sandbox_name)
    config = create_config(api, slug, body_for(api, sandbox))
    for name, value in break_it.items():
        setattr(sandbox, name, value)

    run = api.post(f"{BASE}/{slug}/configs/{config['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"].startswith(reason)
    assert api.post(f"{BASE}/{slug}/configs/{config['id']}/activate/").status_code == 409
    assert ValidationRun.objects.get().passed is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, body_for, sandbox_name, request_line",
    [
        ("mailgun", mailgun_body, "mailgun_sandbox", ("GET", "/v3/mg.example.org/events")),
        ("elks", elks_body, "elks_sandbox", ("GET", "/a1/me")),
        (
            "twilio",
            twilio_body,
            "twilio_sandbox",
            ("GET", f"/2010-04-01/Accounts/{'AC' + '0123456789abcdef' * 2}.json"),
        ),
    ],
)
def test_validation_makes_one_cheap_authenticated_read(
    api, request, slug, body_for, sandbox_name, request_line
):
    sandbox = request.getfixturevalue(sandbox_name)
    config = create_config(api, slug, body_for(api, sandbox))

    run = api.post(f"{BASE}/{slug}/configs/{config['id']}/validate/").json()

    assert run["passed"] is True, run
    assert [(r.method, r.path) for r in sandbox.requests] == [request_line]


@pytest.mark.django_db
def test_a_config_without_its_credential_refs_fails_validation_without_a_call(
    api, sendgrid_sandbox
):
    config = create_config(api, "sendgrid", {"display_name": "SG", "from_email": "a@club.example"})

    run = api.post(f"{BASE}/sendgrid/configs/{config['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"] == "missing credential refs: api_key_ref"
    assert sendgrid_sandbox.requests == []


@pytest.mark.django_db
def test_configs_are_tenant_isolated(api, other_api):
    mine = create_config(api, "elks", _minimal_body(api, "elks"))
    url = f"{BASE}/elks/configs/{mine['id']}/"

    assert other_api.get(url).status_code == 404
    assert other_api.patch(url, {"display_name": "taken"}, format="json").status_code == 404
    assert other_api.post(f"{url}pause/").status_code == 404
    assert other_api.get(f"{BASE}/elks/configs/").json()["results"] == []
    assert api.get(f"{BASE}/elks/configs/").json()["results"][0]["id"] == mine["id"]
    assert ElksConfig.objects.get().display_name == "Elks"


@pytest.mark.django_db
def test_a_config_is_served_only_under_its_own_provider(api):
    mine = create_config(api, "elks", _minimal_body(api, "elks"))

    assert api.get(f"{BASE}/twilio/configs/{mine['id']}/").status_code == 404


@pytest.mark.django_db
def test_the_generated_token_is_a_new_secret_per_config(api, tenant):
    first = create_config(api, "elks", _minimal_body(api, "elks"))
    second = create_config(api, "elks", _minimal_body(api, "elks") | {"display_name": "Second"})

    tokens = {
        secret_resolve(tenant=tenant, ref=row.webhook_token_ref) for row in ElksConfig.objects.all()
    }
    assert len(tokens) == 2
    assert LocalSecret.objects.filter(name__startswith="elks46-webhook-token-").count() == 2
    assert first["id"] != second["id"]


@pytest.mark.django_db
def test_the_admin_checks_configs_like_the_api_and_gives_46elks_its_token(
    client, django_user_model, tenant, api
):
    admin_user = django_user_model.objects.create_superuser("root", "root@hub.example", "pw")
    client.force_login(admin_user)
    ref = secret(api, "elks-credential", "a-stored-credential-value")
    form = {
        "tenant": str(tenant.pk),
        "display_name": "Elks",
        "quota_period": "month",
        "api_username_ref": ref,
        "api_password_ref": ref,
        "sender_id": "Club",
        "default_country_code": "+46",
        "dlr_callback_url": "",
    }

    pasted = client.post(
        "/admin/communication/elksconfig/add/", form | {"api_password_ref": "hunter2-secret"}
    )
    bad_sender = client.post(
        "/admin/communication/elksconfig/add/", form | {"sender_id": "FarTooLongSender"}
    )
    created = client.post("/admin/communication/elksconfig/add/", form)

    assert pasted.status_code == bad_sender.status_code == 200  # the form again, with its errors
    assert "hunter2-secret" not in pasted.content.decode()
    assert created.status_code == 302
    row = ElksConfig.objects.get()
    assert (row.family, row.provider, row.status) == ("communication", "elks46", "draft")
    assert row.webhook_token_ref == f"local://elks46-webhook-token-{row.pk}"


@pytest.mark.django_db
def test_the_admin_validates_and_activates_through_the_lifecycle(
    client, django_user_model, api, sendgrid_sandbox
):
    admin_user = django_user_model.objects.create_superuser("root", "root@hub.example", "pw")
    client.force_login(admin_user)
    config = create_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    changelist = "/admin/communication/sendgridconfig/"

    client.post(changelist, {"action": "validate", "_selected_action": [config["id"]]})
    client.post(changelist, {"action": "activate", "_selected_action": [config["id"]]})

    row = SendGridConfig.objects.get()
    assert (row.status, row.last_validation_passed) == ("active", True)
    assert LifecycleTransition.objects.get(integration_id=row.pk).actor == "admin:root"
