from .tenancy import ApiKey, Membership, Tenant, TenantOwned

__all__ = ["ApiKey", "Membership", "Tenant", "TenantOwned"]
