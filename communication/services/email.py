"""Email: written queued with its route, delivered by a task through SendGrid or Mailgun.
Neither takes an idempotency key, so each request is preceded by the in-flight marker
(communication.services.inflight) and a crash mid-request is never sent twice blindly.

`email_send` is what the API and the notifications fan-out call. With a provider it sends
through that provider's config (named, or the tenant's preferred one); without one it
routes: SendGrid first, Mailgun when SendGrid fails retriably or its breaker is open.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from adapters.providers import mailgun as mailgun_adapter
from adapters.providers import sendgrid as sendgrid_adapter
from adapters.types import EmailRecipient, OutboundEmail
from communication.models import DeliveryAttempt, EmailMessage, MailgunConfig, SendGridConfig
from communication.nudges import nudge_email_delivery
from communication.services import attempts, inflight
from communication.services.routing import email_route, provider_config
from integrations.errors import ApplicationError
from integrations.families.registry import family_spec

EMAIL_SEND = "email.send"
EMAIL_PROVIDERS = {
    sendgrid_adapter.key: (SendGridConfig, sendgrid_adapter),
    mailgun_adapter.key: (MailgunConfig, mailgun_adapter),
}


def _prepare(config, message: EmailMessage, resolve):
    adapter = EMAIL_PROVIDERS[config.provider][1]
    adapter_config = (
        family_spec(config.family).binding(config.provider).build_config(config, resolve)
    )
    email = OutboundEmail(
        reference=str(message.pk),
        to=tuple(EmailRecipient(email=r["email"], name=r.get("name", "")) for r in message.to),
        subject=message.subject,
        template_id=message.template_id,
        template_data=message.template_data,
        body_text=message.body_text,
        body_html=message.body_html,
    )

    def request():
        inflight.dispatch_mark(channel=EMAIL_CHANNEL, message=message, config=config)
        return adapter.send_email(adapter_config, email)

    return request


def _enqueue(message_id: str) -> None:
    from communication.tasks import email_deliver as email_deliver_task

    email_deliver_task.delay(message_id)


EMAIL_CHANNEL = attempts.Channel(
    kind=DeliveryAttempt.Kind.EMAIL,
    model=EmailMessage,
    operation=EMAIL_SEND,
    prepare=_prepare,
    enqueue=_enqueue,
)
attempts.register_channel_replay(EMAIL_CHANNEL)


def _check_content(
    *, template_id: str, template_data: dict | None, body_text: str, body_html: str
) -> None:
    has_template, has_body = bool(template_id), bool(body_text or body_html)
    if has_template == has_body:
        rule = (
            "give either template_id (with template_data) or body_text/body_html, not both"
            if has_template
            else "give template_id (with template_data) or body_text/body_html"
        )
        raise ApplicationError(
            f"the email has no valid content: {rule}",
            extra={"errors": {"non_field_errors": [rule]}},
        )
    if template_data and not has_template:
        raise ApplicationError(
            "template_data needs a template_id",
            extra={"errors": {"template_data": ["only with template_id"]}},
        )


def email_send(
    *,
    tenant,
    to: list[dict],
    subject: str,
    template_id: str = "",
    template_data: dict | None = None,
    body_text: str = "",
    body_html: str = "",
    provider: str | None = None,
    config_id=None,
    idempotency_key: str | None = None,
    notification=None,
) -> EmailMessage:
    """Write the email queued and enqueue its delivery on commit. The same idempotency key
    returns the message it first created."""
    _check_content(
        template_id=template_id,
        template_data=template_data,
        body_text=body_text,
        body_html=body_html,
    )
    # A key already used is found by the insert's unique constraint, not by a read first: that
    # read would cost every new send a query. A route that no longer exists must not hide it.
    try:
        if provider is None:
            route = email_route(tenant=tenant)
        else:
            model = EMAIL_PROVIDERS[provider][0]
            label = EMAIL_PROVIDERS[provider][1].display_name
            route = [provider_config(tenant=tenant, model=model, label=label, config_id=config_id)]
    except ApplicationError:
        if idempotency_key and (existing := _existing(tenant, idempotency_key)) is not None:
            return existing
        raise
    try:
        with transaction.atomic():
            message = EmailMessage.objects.create(
                tenant=tenant,
                config=route[0],
                to=to,
                subject=subject,
                template_id=template_id,
                template_data=template_data or {},
                body_text=body_text,
                body_html=body_html,
                idempotency_key=idempotency_key,
                notification=notification,
                metadata={attempts.ROUTE: [str(config.pk) for config in route]},
            )
            transaction.on_commit(lambda: nudge_email_delivery(str(message.pk)))
    except IntegrityError:
        existing = _existing(tenant, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing
    return message


def _existing(tenant, idempotency_key: str) -> EmailMessage | None:
    return EmailMessage.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()


def email_deliver(*, message_id, final_attempt: bool) -> EmailMessage | None:
    return attempts.message_deliver(
        channel=EMAIL_CHANNEL, message_id=message_id, final_attempt=final_attempt
    )


def emails_requeue_stale() -> dict[str, int]:
    return inflight.messages_requeue_stale(channel=EMAIL_CHANNEL)
