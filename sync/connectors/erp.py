"""Third-party ERPs registered by the tenant, over the hub's ERP interface."""
from __future__ import annotations

from adapters.providers import hub_erp_api
from adapters.sync_types import Document, PushResult
from integrations.secrets.services import secret_resolve
from sync.connectors.base import Connector


class ErpConnector(Connector):
    record_types = ("invoice", "payment", "expense", "reimbursement", "member")
    # PUT by reference: a changed record is simply written again.
    updates = True

    def build_config(self, *, refresh: bool) -> hub_erp_api.Config:
        from sync.families import erp_config

        return erp_config(self.integration, lambda ref: secret_resolve(tenant=self.integration.tenant, ref=ref))

    def push(self, record_type: str, document: Document, *, remote_id: str = "") -> PushResult:
        return self.call(f"push_{record_type}", lambda config: hub_erp_api.push_document(config, document))

    def find(self, record_type: str, document: Document) -> str | None:
        return self.call(f"find_{record_type}", lambda config: hub_erp_api.find_document(config, document))
