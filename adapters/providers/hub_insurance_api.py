"""Insurers, through the hub's insurance provider interface.

Sports insurers and brokers expose no common API, so the hub defines one that an insurer (or a
broker's platform) implements: docs/provider-interfaces/insurance.openapi.json. The bearer
credential is either the insurer's API key or an OAuth access token the hub obtained for the
integration; authentication is described in adapters/providers/hub_interface.py. This
interface has no request signing: the model carries no signing key for insurers.

Operations: GET /v1/status (validation: which broker the credential belongs to and the coverage
types the insurer offers), POST /v1/enrollments, POST /v1/claims, POST /v1/premium-quotes,
POST /v1/certificates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderRejected
from adapters.providers.hub_interface import (
    InterfaceEndpoint,
    check_environment,
    interface_call,
    require_identity,
)
from adapters.types import ValidationResult

key = "hub_insurance_api"
display_name = "Insurer (hub insurance interface)"

# The interface's fixed vocabulary (components.schemas.CoverageType in the OpenAPI document).
COVERAGE_TYPES = ("accident", "liability", "travel", "equipment", "health")


@dataclass(frozen=True)
class Config:
    api_base_url: str
    bearer_token: str = field(repr=False)  # a secret
    broker_id: str = ""
    coverage_types: tuple[str, ...] = ()
    sandbox: bool = True
    timeout_seconds: float = 10.0

    @property
    def endpoint(self) -> InterfaceEndpoint:
        return InterfaceEndpoint(
            provider=key,
            base_url=self.api_base_url,
            bearer_token=self.bearer_token,
            timeout_seconds=self.timeout_seconds,
        )


def validate(config: Config) -> ValidationResult:
    status = interface_call(config.endpoint, "GET", "/v1/status")
    broker = require_identity(
        config.endpoint, status, field_name="broker_id", expected=config.broker_id, label="broker"
    )
    environment = check_environment(key, status, sandbox=config.sandbox)
    offered = status.get("coverage_types")
    if not isinstance(offered, list):
        raise ProviderRejected(
            "the insurer's status did not list its coverage types",
            provider=key,
            code="malformed_response",
        )
    missing = [coverage for coverage in config.coverage_types if coverage not in offered]
    if missing:
        raise ProviderRejected(
            f"the insurer does not offer coverage: {', '.join(missing)}",
            provider=key,
            code="coverage_not_offered",
        )
    return ValidationResult(
        message=f"authenticated with the insurer as broker {broker} ({environment})",
        details={"broker_id": broker, "environment": environment, "coverage_types": offered},
    )


def enroll_member(
    config: Config, *, policy_group_id: str, member: dict, coverage_types: list[str], starts_on: str
) -> dict:
    """Enrol one member in a policy group from a date (YYYY-MM-DD); answers the enrolment."""
    return interface_call(
        config.endpoint,
        "POST",
        "/v1/enrollments",
        payload={
            "broker_id": config.broker_id,
            "policy_group_id": policy_group_id,
            "member": member,
            "coverage_types": coverage_types,
            "starts_on": starts_on,
        },
    )


def submit_claim(
    config: Config,
    *,
    policy_group_id: str,
    member_id: str,
    coverage_type: str,
    incident_date: str,
    description: str,
    amount: dict,
) -> dict:
    """`amount` is {"value": "1250.00", "currency": "SEK"} (a decimal string, never a float)."""
    return interface_call(
        config.endpoint,
        "POST",
        "/v1/claims",
        payload={
            "broker_id": config.broker_id,
            "policy_group_id": policy_group_id,
            "member_id": member_id,
            "coverage_type": coverage_type,
            "incident_date": incident_date,
            "description": description,
            "amount": amount,
        },
    )


def quote_premium(
    config: Config,
    *,
    policy_group_id: str,
    coverage_types: list[str],
    member_count: int,
    period_start: str,
    period_end: str,
) -> dict:
    return interface_call(
        config.endpoint,
        "POST",
        "/v1/premium-quotes",
        payload={
            "broker_id": config.broker_id,
            "policy_group_id": policy_group_id,
            "coverage_types": coverage_types,
            "member_count": member_count,
            "period_start": period_start,
            "period_end": period_end,
        },
    )


def issue_certificate(
    config: Config, *, policy_group_id: str, member_id: str, coverage_type: str
) -> dict:
    """A certificate of insurance for one member; answers its id, document URL and validity."""
    return interface_call(
        config.endpoint,
        "POST",
        "/v1/certificates",
        payload={
            "broker_id": config.broker_id,
            "policy_group_id": policy_group_id,
            "member_id": member_id,
            "coverage_type": coverage_type,
        },
    )
