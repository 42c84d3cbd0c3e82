"""Dynamics 365 contacts as members, through a field mapping (hub member field -> column)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from adapters.providers import dynamics365
from adapters.sync_types import Document, MemberRecord, PushResult, RemoteRecord
from integrations.errors import ApplicationError
from integrations.families.provider_interface import api_base_url_problem
from integrations.secrets.services import secret_resolve
from sync.connectors.base import Connector

# The standard contact columns; membership columns are custom ones with the solution's prefix.
DEFAULT_FIELD_MAPPING = {"first_name": "firstname", "last_name": "lastname", "email": "emailaddress1",
                         "phone": "mobilephone", "membership_type": "hub_membershiptype",
                         "membership_valid_until": "hub_membershipvaliduntil"}
MAPPABLE_FIELDS = ("first_name", "last_name", "email", "phone", "rfid_card_id", "is_active", "credits",
                   "membership_type", "membership_valid_until")


def field_mapping(integration) -> dict[str, str]:
    return dict(integration.field_mapping or DEFAULT_FIELD_MAPPING)


def dynamics_config(integration, resolve) -> dynamics365.Config:
    if problem := api_base_url_problem(integration.environment_url):
        raise ApplicationError(f"environment_url {problem}", code="invalid_base_url")
    missing = [name for name in ("directory_tenant_id", "client_id", "client_secret_ref")
               if not getattr(integration, name)]
    if missing:
        raise ApplicationError(f"missing: {', '.join(missing)}", code="incomplete")
    return dynamics365.Config(environment_url=integration.environment_url,
                              directory_tenant_id=integration.directory_tenant_id, client_id=integration.client_id,
                              client_secret=resolve(integration.client_secret_ref),
                              member_key_column=integration.member_key_column)


class DynamicsConnector(Connector):
    record_types = ("member",)
    updates = True

    def __init__(self, integration) -> None:
        self.mapping = field_mapping(integration)
        super().__init__(integration)

    def build_config(self, *, refresh: bool) -> dynamics365.Config:
        if refresh:
            dynamics365.forget_credentials(self.config)
        return dynamics_config(self.integration, lambda ref: secret_resolve(tenant=self.integration.tenant, ref=ref))

    @property
    def can_refresh(self) -> bool:
        return True

    def to_columns(self, document: MemberRecord) -> MemberRecord:
        return MemberRecord(reference=document.reference,
                            fields={column: document.fields.get(name) for name, column in self.mapping.items()})

    def to_hub(self, row: dict) -> dict:
        """A contact's mapped columns in hub field names, typed as the hub stores them."""
        values = {}
        for name, column in self.mapping.items():
            value = row.get(column)
            if name == "membership_valid_until" and isinstance(value, str):
                value = date.fromisoformat(value[:10])
            elif name in ("first_name", "last_name", "email", "phone", "rfid_card_id", "membership_type"):
                value = value or ""
            values[name] = value
        return values

    def push(self, record_type: str, document: Document, *, remote_id: str = "") -> PushResult:
        columns = self.to_columns(document)
        return self.call("push_member", lambda config: dynamics365.push_member(config, columns, remote_id=remote_id))

    def find(self, record_type: str, document: Document) -> str | None:
        return self.call("find_member", lambda config: dynamics365.find_member(config, document))

    def pull(self, *, since) -> Iterator[RemoteRecord]:
        """Changed contacts, page by page; each page is one counted call."""
        columns, next_link = tuple(self.mapping.values()), ""
        while True:
            records, next_link = self.call("pull_members", lambda config: dynamics365.contacts_page(
                config, columns=columns, since=since, next_link=next_link))
            for record in records:
                yield RemoteRecord(remote_id=record.remote_id, updated_at=record.updated_at,
                                   fields={**record.fields, "_hub": self.to_hub(record.fields)})
            if not next_link:
                return
