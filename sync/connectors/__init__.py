"""Which connector serves an integration, by family and provider."""
from __future__ import annotations

from integrations.errors import ApplicationError
from integrations.models import Integration
from sync.connectors.base import Connector


def connector_for(integration: Integration) -> Connector:
    integration = integration.specific()
    if integration.family == "accounting":
        from sync.connectors.accounting import AccountingConnector

        return AccountingConnector(integration)
    if integration.family == "erp":
        from sync.connectors.erp import ErpConnector

        return ErpConnector(integration)
    if integration.family == "crm":
        from sync.connectors.crm import DynamicsConnector

        return DynamicsConnector(integration)
    if integration.family == "lms":
        from sync.connectors.lms import lms_connector

        return lms_connector(integration)
    raise ApplicationError(f"{integration.family} integrations do not sync", code="not_supported")
