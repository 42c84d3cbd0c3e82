"""Accounting systems (the accounting family's eight providers) as push targets.

The adapter config comes from the accounting family's own binding, so a push authenticates
exactly as validation does (OAuth token through the token service, Tripletex session,
Xledger API token). Each adapter module offers `push_document(config, document)` and
`find_document(config, document)`; those whose documents name customers by the provider's
internal id also offer `find_party` and `create_party(config, party, role)` (one request each),
whose answer the sync log keeps, so a party costs at most one lookup per integration, ever.
"""
from __future__ import annotations

import dataclasses

from adapters.registry import PROVIDERS
from adapters.sync_types import Document, InvoicePayment, JournalEntry, Party, PushResult, SalesInvoice
from integrations.families.registry import family_spec
from integrations.oauth.tokens import oauth_force_refresh
from integrations.secrets.services import secret_resolve
from sync.connectors.base import Connector
from sync.models import LogState, SyncLogEntry


class AccountingConnector(Connector):
    record_types = ("invoice", "payment", "expense", "reimbursement")
    updates = False

    def __init__(self, integration) -> None:
        self.binding = family_spec(integration.family).binding(integration.provider)
        self.adapter = PROVIDERS[integration.provider]
        self._parties: dict[tuple[str, str], str] = {}
        super().__init__(integration)

    def build_config(self, *, refresh: bool):
        if refresh and self.binding.oauth:
            oauth_force_refresh(integration=self.integration)
            self.integration.refresh_from_db()
        elif refresh and hasattr(self.adapter, "forget_credentials"):
            self.adapter.forget_credentials(self.config)
        return self.binding.build_config(self.integration,
                                         lambda ref: secret_resolve(tenant=self.integration.tenant, ref=ref))

    @property
    def can_refresh(self) -> bool:
        return self.binding.oauth or hasattr(self.adapter, "forget_credentials")

    def push(self, record_type: str, document: Document, *, remote_id: str = "") -> PushResult:
        document = self._with_party_ids(document)
        return self.call(f"push_{record_type}", lambda config: self.adapter.push_document(config, document))

    def find(self, record_type: str, document: Document) -> str | None:
        document = self._with_party_ids(document)
        return self.call(f"find_{record_type}", lambda config: self.adapter.find_document(config, document))

    def party_id(self, party: Party, *, role: str) -> str:
        if role not in getattr(self.adapter, "PARTY_ROLES", ()) or not party.number:
            return party.number
        key = (role, party.number)
        if key in self._parties:
            return self._parties[key]
        known = (SyncLogEntry.objects.filter(integration_id=self.integration.pk, record_type=role,
                                             record_id=party.number[:64], state=LogState.SYNCED)
                 .values_list("remote_id", flat=True).first())
        if not known:
            known = self.call(f"find_{role}", lambda config: self.adapter.find_party(config, party, role)) or \
                self.call(f"create_{role}", lambda config: self.adapter.create_party(config, party, role))
            SyncLogEntry.objects.update_or_create(
                integration_id=self.integration.pk, record_type=role, record_id=party.number[:64],
                defaults={"tenant_id": self.integration.tenant_id, "reference": party.name[:100],
                          "remote_id": known, "state": LogState.SYNCED})
        self._parties[key] = known
        return known

    def _with_party_ids(self, document: Document) -> Document:
        """Swap the party number for the provider's id where the adapter needs one."""
        if not getattr(self.adapter, "PARTY_ROLES", ()):
            return document
        if isinstance(document, (SalesInvoice, InvoicePayment)):
            customer = dataclasses.replace(document.customer,
                                           number=self.party_id(document.customer, role="customer"))
            return dataclasses.replace(document, customer=customer)
        if isinstance(document, JournalEntry) and document.payee is not None and document.payee.number:
            payee = dataclasses.replace(document.payee, number=self.party_id(document.payee, role="supplier"))
            return dataclasses.replace(document, payee=payee)
        return document
