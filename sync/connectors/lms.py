"""Learning systems: Cornerstone (client credentials) and Consio (API key), both able to take
enrolments as a CSV import file instead."""
from __future__ import annotations

from types import ModuleType

from adapters.providers import consio, cornerstone
from adapters.sync_types import Document, PushResult
from integrations.errors import ApplicationError
from integrations.families.provider_interface import api_base_url_problem
from integrations.secrets.services import secret_resolve
from sync.connectors.base import Connector

ADAPTERS: dict[str, ModuleType] = {cornerstone.key: cornerstone, consio.key: consio}


def has_api_credentials(integration) -> bool:
    """Whether the tenant has API access at all; without it enrolments go out as CSV files."""
    if integration.provider == cornerstone.key:
        return bool(integration.api_base_url and integration.client_id and integration.client_secret_ref)
    return bool(integration.api_base_url and integration.api_key_ref)


def lms_config(integration, resolve):
    if problem := api_base_url_problem(integration.api_base_url):
        raise ApplicationError(f"api_base_url {problem}", code="invalid_base_url")
    if integration.provider == cornerstone.key:
        return cornerstone.Config(portal_url=integration.api_base_url, client_id=integration.client_id,
                                  client_secret=resolve(integration.client_secret_ref))
    probe = next(iter(sorted((integration.course_mapping or {}).values())), "")
    return consio.Config(api_key=resolve(integration.api_key_ref), base_url=consio.base_url(integration.api_base_url),
                         probe_course_id=probe)


class LmsConnector(Connector):
    record_types = ("enrollment",)
    updates = False

    def __init__(self, integration) -> None:
        self.adapter = ADAPTERS[integration.provider]
        super().__init__(integration)

    def build_config(self, *, refresh: bool):
        if refresh and hasattr(self.adapter, "forget_credentials"):
            self.adapter.forget_credentials(self.config)
        return lms_config(self.integration, lambda ref: secret_resolve(tenant=self.integration.tenant, ref=ref))

    @property
    def can_refresh(self) -> bool:
        return hasattr(self.adapter, "forget_credentials")

    def push(self, record_type: str, document: Document, *, remote_id: str = "") -> PushResult:
        return self.call("push_enrollment", lambda config: self.adapter.push_enrollment(config, document))

    def find(self, record_type: str, document: Document) -> str | None:
        return self.call("find_enrollment", lambda config: self.adapter.find_enrollment(config, document))


def lms_connector(integration) -> LmsConnector:
    return LmsConnector(integration)
