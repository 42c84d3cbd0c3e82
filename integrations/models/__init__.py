from .secrets import LocalSecret
from .tenancy import ApiKey, Membership, Tenant, TenantOwned

__all__ = ["ApiKey", "LocalSecret", "Membership", "Tenant", "TenantOwned"]
