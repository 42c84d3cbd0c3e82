"""Government sports registries, through the hub's registry provider interface.

National sports registries (membership statistics, grants, facility and event registers) have
no common API, so the hub defines one that a registry or its integration partner implements:
docs/provider-interfaces/gov-registries.openapi.json. Every request carries the API key as a
bearer token and is signed with the federation's signing certificate (RSA or ECDSA private key
and its certificate in one PEM); see adapters/providers/hub_interface.py.

Operations: GET /v1/status (validation: which federation and country the key belongs to),
POST /v1/membership-reports, POST /v1/grant-applications, POST /v1/facility-registrations,
POST /v1/event-reports, GET /v1/compliance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderRejected
from adapters.providers.hub_interface import (
    CertificateSigner,
    InterfaceEndpoint,
    check_environment,
    interface_call,
    require_identity,
)
from adapters.types import ValidationResult

key = "hub_registry_api"
display_name = "Registry (hub registry interface)"


@dataclass(frozen=True)
class Config:
    api_base_url: str
    api_key: str = field(repr=False)  # a secret
    signer: CertificateSigner
    federation_code: str = ""
    country_code: str = ""
    sandbox: bool = True
    timeout_seconds: float = 10.0

    @property
    def endpoint(self) -> InterfaceEndpoint:
        return InterfaceEndpoint(
            provider=key,
            base_url=self.api_base_url,
            bearer_token=self.api_key,
            signer=self.signer,
            timeout_seconds=self.timeout_seconds,
        )


def validate(config: Config) -> ValidationResult:
    status = interface_call(config.endpoint, "GET", "/v1/status")
    federation = require_identity(
        config.endpoint,
        status,
        field_name="federation_code",
        expected=config.federation_code,
        label="federation",
    )
    if config.country_code and status.get("country_code") != config.country_code:
        raise ProviderRejected(
            f"the registry serves country '{status.get('country_code')}', not the configured "
            f"'{config.country_code}'",
            provider=key,
            code="identity_mismatch",
        )
    environment = check_environment(key, status, sandbox=config.sandbox)
    return ValidationResult(
        message=f"authenticated with the {status.get('country_code')} registry as "
        f"{federation} ({environment})",
        details={"federation_code": federation, "environment": environment},
    )


def submit_membership_report(
    config: Config, *, period_start: str, period_end: str, totals: dict
) -> dict:
    """`totals`: {"members": int, "active_members": int, "youth_members": int, "clubs": int}."""
    return interface_call(
        config.endpoint,
        "POST",
        "/v1/membership-reports",
        payload={
            "federation_code": config.federation_code,
            "period_start": period_start,
            "period_end": period_end,
            "totals": totals,
        },
    )


def submit_grant_application(
    config: Config, *, program_code: str, title: str, description: str, requested_amount: dict
) -> dict:
    return interface_call(
        config.endpoint,
        "POST",
        "/v1/grant-applications",
        payload={
            "federation_code": config.federation_code,
            "program_code": program_code,
            "title": title,
            "description": description,
            "requested_amount": requested_amount,
        },
    )


def register_facility(config: Config, *, name: str, facility_type: str, address: dict) -> dict:
    return interface_call(
        config.endpoint,
        "POST",
        "/v1/facility-registrations",
        payload={
            "federation_code": config.federation_code,
            "name": name,
            "facility_type": facility_type,
            "address": address,
        },
    )


def submit_event_report(
    config: Config, *, event_name: str, starts_on: str, ends_on: str, participants: int, venue: str
) -> dict:
    return interface_call(
        config.endpoint,
        "POST",
        "/v1/event-reports",
        payload={
            "federation_code": config.federation_code,
            "event_name": event_name,
            "starts_on": starts_on,
            "ends_on": ends_on,
            "participants": participants,
            "venue": venue,
        },
    )


def compliance_status(config: Config) -> dict:
    """The registry's view of the federation's compliance: an overall status and open findings."""
    return interface_call(config.endpoint, "GET", "/v1/compliance")
