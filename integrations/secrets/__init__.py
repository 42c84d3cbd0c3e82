"""Secrets as refs. Import from the modules directly:

- `refs`: `SecretRef`, `parse_ref()`, `is_ref()` (pure)
- `services`: `secret_store()`, `secret_resolve()`, `secret_cache_clear()`, `local_secret_write()`
- `selectors`: `local_secret_list()`, `local_secret_get()`, `local_secret_exists()`
- `fields`: `SecretRefField` for every `*_ref` serializer field
- `errors`: `SecretRefInvalid`, `SecretNotFound`, `SecretBackendUnavailable`
- `keyvault`: `keyvault_configure()`, `keyvault_reset()` (credential and transport injection)

This package imports nothing at load so that models and settings-time code can import
`integrations.secrets.refs` without pulling in the ORM.
"""
