"""A connector binds one integration to its adapter for a run: it builds the adapter config
from the row (secrets resolved now, OAuth tokens fresh), and makes every provider call
through `integration_call` (quota, breaker, retries, usage), refreshing credentials once when
the provider answers 401 to a token that looked valid."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from adapters.errors import ProviderAuthFailed
from adapters.sync_types import Document, Party, PushResult, RemoteRecord
from integrations.models import Integration
from integrations.services.calls import integration_call

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Connector:
    """Subclasses set `record_types` and implement `build_config`, `push` and `find`."""

    record_types: tuple[str, ...] = ()
    # Whether a changed record is sent again as an update (CRM, ERP interface); accounting
    # documents are booked and immutable, so a change after the push is reported instead.
    updates: bool = False

    def __init__(self, integration: Integration) -> None:
        self.integration = integration
        self.config: Any = self.build_config(refresh=False)

    # --- subclass hooks ------------------------------------------------------------------------

    def build_config(self, *, refresh: bool) -> Any:
        """The adapter config; `refresh` asks for new credentials (after a 401)."""
        raise NotImplementedError

    def push(self, record_type: str, document: Document, *, remote_id: str = "") -> PushResult:
        """Create the record at the provider, or update `remote_id` when given."""
        raise NotImplementedError

    def find(self, record_type: str, document: Document) -> str | None:
        """The provider id of a record an interrupted attempt may have created, or None."""
        raise NotImplementedError

    def party_id(self, party: Party, *, role: str) -> str:
        """The provider's id for a customer or payee; by default its number is its id."""
        return party.number

    def pull(self, *, since) -> list[RemoteRecord]:
        raise NotImplementedError(f"{self.integration.provider} has no pull")

    # --- calls -------------------------------------------------------------------------------------

    def call(self, operation: str, fn: Callable[[Any], T]) -> T:
        """Run `fn(config)` as one counted provider call; on a 401 refresh once and retry."""
        try:
            return integration_call(integration=self.integration, operation=operation,
                                    fn=lambda: fn(self.config))
        except ProviderAuthFailed as exc:
            if exc.status_code != 401 or not self.can_refresh:
                raise
            logger.info("provider refused the token; refreshing once",
                        extra={"integration_id": str(self.integration.pk), "operation": operation})
            self.config = self.build_config(refresh=True)
            return integration_call(integration=self.integration, operation=operation,
                                    fn=lambda: fn(self.config))

    @property
    def can_refresh(self) -> bool:
        return False

    def close(self) -> None:
        """Release pooled connections the adapter keeps for this config."""
        closer = getattr(self.config, "close", None)
        if callable(closer):
            closer()
