from .base import Family, Integration, LifecycleTransition, QuotaPeriod, ValidationRun
from .deadletters import DeadLetter
from .families import (
    AccountingIntegration,
    CalendarIntegration,
    GovSportsRegistryIntegration,
    InsuranceIntegration,
    MappingIntegration,
    SocialMediaIntegration,
    StreamingIntegration,
    SyncDirection,
    WadaAdamsIntegration,
)
from .idempotency import IdempotencyRecord
from .outbox import OutboxEvent
from .payment_gateways import Payment, PaymentGatewayIntegration
from .secrets import LocalSecret
from .tenancy import ApiKey, Membership, Tenant, TenantOwned
from .usage import USAGE_SHARDS, UsageDaily

__all__ = [
    "AccountingIntegration", "CalendarIntegration", "GovSportsRegistryIntegration", "InsuranceIntegration",
    "MappingIntegration", "SocialMediaIntegration", "StreamingIntegration", "SyncDirection",
    "WadaAdamsIntegration", "ApiKey", "DeadLetter", "Family", "IdempotencyRecord", "Integration", "LifecycleTransition",
    "LocalSecret", "Membership", "OutboxEvent", "Payment", "PaymentGatewayIntegration", "QuotaPeriod", "Tenant",
    "TenantOwned", "USAGE_SHARDS", "UsageDaily", "ValidationRun",
]
