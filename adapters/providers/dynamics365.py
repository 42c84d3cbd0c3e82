"""Microsoft Dynamics 365 (Dataverse) contacts, through the Dataverse Web API v9.2, with OAuth2
client credentials against the tenant's own environment.

Docs:
- Web API: https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/overview
  (base `<environment url>/api/data/v9.2/`; WhoAmI:
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/reference/whoami)
- Client credentials (an application user in the environment):
  https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
  (token https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token, scope `<environment>/.default`)
- Create, update, upsert by alternate key:
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api
  (`PATCH contacts(<key column>='<value>')` creates or updates; `If-Match: *` makes a PATCH
  update-only; `Prefer: return=representation` answers the row)
- Query and paging: https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query-data-web-api
  (`$select`, `$filter=modifiedon ge <time>`, `$orderby`, `Prefer: odata.maxpagesize`, `@odata.nextLink`)
- Service protection limits (429 with Retry-After):
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/api-limits
Quirks:
- Creating through the alternate key makes a retried push idempotent: the same hub member id
  lands on the same contact. The key column (default `hub_memberid`) must be defined as an
  alternate key on the contact table.
- Errors are {"error": {"code", "message"}}; an expired token answers 401.
- Tokens are cached per process (adapters.client_credentials); `forget_credentials` drops one
  after the environment refused it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from adapters import client_credentials
from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import provider_token_url
from adapters.http_pool import LentClient, pooled_client
from adapters.sync_types import MemberRecord, PushResult, RemoteRecord
from adapters.types import ValidationResult

key = "dynamics365"
display_name = "Dynamics 365"

API_PATH = "/api/data/v9.2"
TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
PAGE_SIZE = 500
COLUMN = re.compile(r"[a-z_][a-z0-9_]{0,99}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def token_url(directory_tenant_id: str) -> str:
    """PROVIDER_DYNAMICS365_TOKEN_URL overrides it; a `{tenant}` in it is filled in."""
    return provider_token_url(key, TOKEN_URL).replace("{tenant}", directory_tenant_id)


@dataclass(frozen=True)
class Config:
    environment_url: str
    directory_tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    member_key_column: str = "hub_memberid"
    timeout_seconds: float = 15.0

    @property
    def scope(self) -> str:
        return self.environment_url.rstrip("/") + "/.default"


def _cache_key(config: Config) -> tuple[str, str, str]:
    return token_url(config.directory_tenant_id), config.client_id, config.scope


def access_token(config: Config) -> str:
    return client_credentials.token(key, _cache_key(config)[0], cache_key=_cache_key(config),
                                    timeout=config.timeout_seconds, form={
                                        "grant_type": "client_credentials", "client_id": config.client_id,
                                        "client_secret": config.client_secret, "scope": config.scope})


def forget_credentials(config: Config) -> None:
    client_credentials.forget(_cache_key(config))


def token_expires_at(config: Config) -> float | None:
    return client_credentials.expires_at(_cache_key(config))


def _client(config: Config) -> LentClient:
    return pooled_client(key, config.environment_url.rstrip("/") + API_PATH, timeout=config.timeout_seconds,
                         headers={"Authorization": f"Bearer {access_token(config)}", "Accept": "application/json",
                                  "OData-Version": "4.0", "OData-MaxVersion": "4.0"})


def validate(config: Config) -> ValidationResult:
    """WhoAmI: the application user the environment sees, proving token and environment."""
    with _client(config) as client:
        who = _json(client.request("GET", "/WhoAmI"), "GET WhoAmI")
    return ValidationResult(message=f"connected to Dynamics 365 organization {who.get('OrganizationId')}",
                            details={"organization_id": who.get("OrganizationId"), "user_id": who.get("UserId")})


def push_member(config: Config, member: MemberRecord, *, remote_id: str = "") -> PushResult:
    """Update the contact `remote_id`, or upsert by the hub member id (created once, however
    often it is sent)."""
    if not COLUMN.fullmatch(config.member_key_column):
        raise ProviderRejected(f"'{config.member_key_column}' is not a Dataverse column name", provider=key,
                               code="invalid_key_column")
    headers = {"Prefer": "return=representation"}
    if remote_id:
        if not _GUID.fullmatch(remote_id):
            raise ProviderRejected(f"'{remote_id}' is not a contact id", provider=key, code="invalid_contact_id")
        path, headers["If-Match"] = f"/contacts({remote_id})", "*"
        body = member.fields
    else:
        path = f"/contacts({config.member_key_column}='{_odata_string(member.reference)}')"
        body = {**member.fields, config.member_key_column: member.reference}
    with _client(config) as client:
        response = client.request("PATCH", path, json=body, headers=headers)
    row = _json(response, f"PATCH {path}")
    return PushResult(remote_id=str(row.get("contactid", remote_id)), created=response.status_code == 201,
                      remote_updated_at=_time(row.get("modifiedon")))


def find_member(config: Config, member: MemberRecord) -> str | None:
    params = {"$select": "contactid",
              "$filter": f"{config.member_key_column} eq '{_odata_string(member.reference)}'"}
    with _client(config) as client:
        rows = _json(client.request("GET", "/contacts", params=params), "GET contacts").get("value") or []
    return str(rows[0]["contactid"]) if rows and isinstance(rows[0], dict) and rows[0].get("contactid") else None


def contacts_page(config: Config, *, columns: tuple[str, ...], since: datetime | None,
                  next_link: str = "") -> tuple[list[RemoteRecord], str]:
    """One page of contacts modified after `since`, oldest change first, and the link to the
    next page ("" at the end). Callers loop, so one page at a time is in memory."""
    if next_link:
        # The next link is absolute and carries the query; only the part below the API is ours to send.
        if API_PATH not in next_link:
            raise ProviderUnavailable("dynamics365: @odata.nextLink is not below the Web API", provider=key,
                                      code="malformed_response")
        path, params = next_link.split(API_PATH, 1)[1], None
    else:
        select = ",".join(dict.fromkeys(("contactid", "modifiedon", config.member_key_column, *columns)))
        path, params = "/contacts", {"$select": select, "$orderby": "modifiedon asc"}
        if since is not None:
            # `ge`, not `gt`: modifiedon is kept to the second, and a change in the same second as
            # the high-water mark must not be missed; the contact seen last time comes back and
            # is recognised as unchanged.
            params["$filter"] = f"modifiedon ge {since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    with _client(config) as client:
        page = _json(client.request("GET", path, params=params,
                                    headers={"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}), "GET contacts")
    records = [RemoteRecord(remote_id=str(row["contactid"]), updated_at=_time(row["modifiedon"]), fields=row)
               for row in page.get("value") or []
               if isinstance(row, dict) and row.get("contactid") and _time(row.get("modifiedon"))]
    return records, str(page.get("@odata.nextLink") or "")


def _odata_string(value: str) -> str:
    return value.replace("'", "''")


def _time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _json(response, where: str) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"dynamics365: {where} answered {response.status_code} without a JSON object",
                                  provider=key, code="malformed_response")
    return body
