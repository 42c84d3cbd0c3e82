"""WADA ADAMS, through the hub's anti-doping provider interface.

WADA publishes no public API for ADAMS that a federation's software may call directly, so the
hub defines the interface a provider (an ADAMS connector operated for the anti-doping
organisation) implements: docs/provider-interfaces/wada-adams.openapi.json. Authentication and
request signing (HMAC-SHA256 with the integration's signing key) are described in
adapters/providers/hub_interface.py.

Operations: GET /v1/status (validation: which anti-doping organisation the key belongs to),
POST /v1/whereabouts (a quarterly whereabouts filing), GET /v1/tues (therapeutic use
exemptions), GET /v1/test-results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.providers.hub_interface import (
    InterfaceEndpoint,
    check_environment,
    interface_call,
    require_identity,
)
from adapters.types import ValidationResult

key = "adams"
display_name = "WADA ADAMS"


@dataclass(frozen=True)
class Config:
    api_base_url: str
    api_key: str = field(repr=False)  # a secret
    signing_key: str = field(repr=False)  # a secret
    organization_code: str = ""
    sandbox: bool = True
    timeout_seconds: float = 10.0

    @property
    def endpoint(self) -> InterfaceEndpoint:
        return InterfaceEndpoint(
            provider=key,
            base_url=self.api_base_url,
            bearer_token=self.api_key,
            hmac_key=self.signing_key,
            timeout_seconds=self.timeout_seconds,
        )


def validate(config: Config) -> ValidationResult:
    status = interface_call(config.endpoint, "GET", "/v1/status")
    organization = require_identity(
        config.endpoint,
        status,
        field_name="organization_code",
        expected=config.organization_code,
        label="anti-doping organisation",
    )
    environment = check_environment(key, status, sandbox=config.sandbox)
    return ValidationResult(
        message=f"authenticated with WADA ADAMS as {organization} ({environment})",
        details={"organization_code": organization, "environment": environment},
    )


def submit_whereabouts(
    config: Config,
    *,
    athlete_id: str,
    quarter: str,
    overnight_address: dict,
    daily_slots: list[dict],
) -> dict:
    """File an athlete's whereabouts for a quarter ("2026-Q3"); answers the submission's id
    and status."""
    return interface_call(
        config.endpoint,
        "POST",
        "/v1/whereabouts",
        payload={
            "organization_code": config.organization_code,
            "athlete_id": athlete_id,
            "quarter": quarter,
            "overnight_address": overnight_address,
            "daily_slots": daily_slots,
        },
    )


def list_tues(config: Config, *, athlete_pool_id: str, status: str | None = None) -> list[dict]:
    params = {"athlete_pool_id": athlete_pool_id} | ({"status": status} if status else {})
    return interface_call(config.endpoint, "GET", "/v1/tues", params=params)["items"]


def list_test_results(config: Config, *, athlete_pool_id: str, since: str) -> list[dict]:
    """Results reported since an RFC 3339 timestamp, oldest first."""
    return interface_call(
        config.endpoint,
        "GET",
        "/v1/test-results",
        params={"athlete_pool_id": athlete_pool_id, "since": since},
    )["items"]
