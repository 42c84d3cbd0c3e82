"""Which config sends a message: phone numbers to E.164, then the route of configs to try.

A route is the ordered list of configs a message may go through. The first is the one asked
for (or the preferred provider); the next ones take over when it fails retriably or its
breaker is open. SMS: Swedish numbers (+46) go through 46elks first, then Twilio when it
supports Sweden; every other country goes through Twilio when it is in its
`supported_countries`. Email: SendGrid first, then Mailgun.

Configs that are paused still get routes, so their messages wait queued until resumed;
drafts, configs in error and decommissioned ones never do.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import phonenumbers
from django.db.models import Case, IntegerField, Value, When

from communication.models import ElksConfig, MailgunConfig, SendGridConfig, TwilioConfig
from integrations.errors import ApplicationError, Conflict, NotFound
from integrations.lifecycle import Status
from integrations.models import Integration

SWEDEN_CALLING_CODE = 46
ROUTABLE_STATUSES = (Status.ACTIVE, Status.PAUSED)
# What a phone number may be typed with; phonenumbers would otherwise read letters as a
# vanity number ("1-800-FLOWERS").
_PHONE_TEXT = re.compile(r"^[+0-9 ().\-]{3,32}$")
_CALLING_CODE = re.compile(r"^\+([1-9][0-9]{0,2})$")


class NoRoute(ApplicationError):
    status = 422
    code = "no_route"
    title = "No route"


@dataclass(frozen=True)
class PhoneNumber:
    e164: str
    region: str  # ISO 3166 alpha-2, e.g. "SE"
    calling_code: int


def region_for_calling_code(calling_code: str) -> str | None:
    """ "+46" -> "SE"; None when the text is not a calling code in use."""
    match = _CALLING_CODE.match(calling_code or "")
    if not match:
        return None
    region = phonenumbers.region_code_for_country_code(int(match.group(1)))
    return None if region == phonenumbers.UNKNOWN_REGION else region


def phone_normalise(
    raw: str, *, default_country_code: str | None = None, field: str = "to"
) -> PhoneNumber:
    """E.164 for an international number, or a national one read in `default_country_code`."""

    def invalid(rule: str) -> ApplicationError:
        return ApplicationError(
            f"'{field}' is not a valid phone number: {rule}", extra={"errors": {field: [rule]}}
        )

    if not isinstance(raw, str) or not _PHONE_TEXT.match(raw.strip()):
        raise invalid("use digits, spaces and + ( ) - . only, 3 to 32 characters")
    text = raw.strip()
    region = region_for_calling_code(default_country_code) if default_country_code else None
    if not text.startswith("+") and region is None:
        raise invalid(
            "give the number in E.164 form (+<country code><number>); "
            "there is no default country to read a national number in"
        )
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise invalid("it cannot be read as a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise invalid("no such number exists in its country's numbering plan")
    return PhoneNumber(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(parsed) or "",
        calling_code=parsed.country_code,
    )


# (tenant id, config model) -> (monotonic expiry, the preferred config or None). Every send
# request asks for it, and the answer changes only with a config's lifecycle: a change in this
# process drops the tenant's entries at once (communication.apps connects the signals), one in
# another process is seen within ROUTE_CACHE_SECONDS. A message routed to a config that was
# just paused or decommissioned elsewhere is still safe: the delivery re-reads its route.
ROUTE_CACHE_SECONDS = 2.0
_preferred_cache: dict[tuple, tuple[float, Integration | None]] = {}


def route_cache_forget(tenant_id) -> None:
    for cache_key in [cache_key for cache_key in _preferred_cache if cache_key[0] == tenant_id]:
        _preferred_cache.pop(cache_key, None)


def preferred_config(*, tenant, model: type[Integration]) -> Integration | None:
    """The tenant's config of this provider that sends: the oldest active one, else the oldest
    paused one (its messages wait for it)."""
    cache_key = (tenant.pk, model)
    cached = _preferred_cache.get(cache_key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    config = _preferred_config_read(tenant=tenant, model=model)
    _preferred_cache[cache_key] = (time.monotonic() + ROUTE_CACHE_SECONDS, config)
    return config


def _preferred_config_read(*, tenant, model: type[Integration]) -> Integration | None:
    return (
        model.objects.filter(tenant=tenant, status__in=ROUTABLE_STATUSES)
        .annotate(
            rank=Case(
                When(status=Status.ACTIVE, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("rank", "created_at")
        .first()
    )


def named_config(*, tenant, model: type[Integration], config_id) -> Integration:
    """A config the request names: the tenant's own, of the endpoint's provider, and routable."""
    config = model.objects.filter(tenant=tenant, pk=config_id).first()
    if config is None:
        raise NotFound("no such config for this provider")
    if config.status not in ROUTABLE_STATUSES:
        raise Conflict(
            f"the config '{config.display_name}' is {config.status}; only an active config sends "
            "(a paused one holds messages until it is resumed)",
            extra={"config_status": config.status},
        )
    return config


def provider_config(*, tenant, model: type[Integration], label: str, config_id=None) -> Integration:
    if config_id is not None:
        return named_config(tenant=tenant, model=model, config_id=config_id)
    config = preferred_config(tenant=tenant, model=model)
    if config is None:
        raise NoRoute(f"this tenant has no active {label} config")
    return config


def email_route(*, tenant) -> list[Integration]:
    route = [
        config
        for config in (
            preferred_config(tenant=tenant, model=SendGridConfig),
            preferred_config(tenant=tenant, model=MailgunConfig),
        )
        if config
    ]
    if not route:
        raise NoRoute("this tenant has no active SendGrid or Mailgun config to send email through")
    return route


def sms_route(*, tenant, to: str) -> tuple[PhoneNumber, list[Integration]]:
    """The number in E.164 (national numbers read in the 46elks config's country) and its route."""
    elks = preferred_config(tenant=tenant, model=ElksConfig)
    twilio = preferred_config(tenant=tenant, model=TwilioConfig)
    number = phone_normalise(to, default_country_code=elks.default_country_code if elks else None)
    route: list[Integration] = []
    if elks is not None and number.calling_code == SWEDEN_CALLING_CODE:
        route.append(elks)
    if twilio is not None and number.region in twilio.supported_countries:
        route.append(twilio)
    if not route:
        raise NoRoute(
            f"no route for {number.e164} ({number.region}): 46elks takes Swedish numbers and "
            "Twilio the countries in its supported_countries",
            extra={"errors": {"to": [f"no active config sends SMS to {number.region}"]}},
        )
    return number, route


def twilio_number(*, config: TwilioConfig, to: str) -> PhoneNumber:
    """A number for an explicit Twilio send: E.164, in one of the config's countries."""
    number = phone_normalise(to)
    if number.region not in config.supported_countries:
        raise NoRoute(
            f"the Twilio config '{config.display_name}' does not send to {number.region}",
            extra={"errors": {"to": [f"{number.region} is not in supported_countries"]}},
        )
    return number
