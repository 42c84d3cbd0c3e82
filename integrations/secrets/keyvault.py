"""The Azure Key Vault backend behind kv:// refs, through azure-keyvault-secrets.

The vault URL is settings.AZURE_KEYVAULT_URL_TEMPLATE formatted with the vault name. The
credential is azure-identity's DefaultAzureCredential (managed identity, workload identity,
environment, Azure CLI, ...) unless `keyvault_configure()` injects another one, together
with SecretClient/transport options. Tests use that to pass a test credential, trust a
local CA (`connection_verify`) and talk to a loopback sandbox.
"""
from __future__ import annotations

import threading
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.keyvault.secrets import SecretClient
from django.conf import settings

from integrations.secrets.errors import SecretBackendUnavailable, SecretNotFound
from integrations.secrets.refs import SecretRef

# A resolution happens inside a request or a task that has its own retry policy: the SDK's
# default (10 retries with backoff) would hold a worker for minutes when a vault is down.
DEFAULT_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 2,
    "retry_backoff_factor": 0.5,
    "connection_timeout": 5,
    "read_timeout": 10,
}

_lock = threading.Lock()
_credential: TokenCredential | None = None
_client_options: dict[str, Any] = dict(DEFAULT_CLIENT_OPTIONS)
_clients: dict[str, SecretClient] = {}


def keyvault_configure(*, credential: TokenCredential | None = None, **client_options: Any) -> None:
    """Replace the credential and the SecretClient options (merged over the defaults).

    Options go to SecretClient and its transport, e.g. `connection_verify="/path/ca.pem"`,
    `retry_total=0`, or `verify_challenge_resource=False`. The last one is only for a
    vault that does not live under the challenge's resource domain (a loopback test
    sandbox answering with resource="https://vault.azure.net"): the SDK's check stops a
    look-alike host from obtaining a token meant for Key Vault, so production keeps it on.
    """
    global _credential, _client_options
    with _lock:
        _credential = credential
        _client_options = {**DEFAULT_CLIENT_OPTIONS, **client_options}
        _close_clients()


def keyvault_reset() -> None:
    """Back to DefaultAzureCredential and the default options; cached clients are closed."""
    keyvault_configure()


def vault_url(vault: str) -> str:
    return settings.AZURE_KEYVAULT_URL_TEMPLATE.format(vault=vault)


def keyvault_fetch(*, ref: SecretRef) -> str:
    """The value of a kv:// ref: the given version, or the current one when it has none."""
    try:
        secret = _client_for(vault_url(ref.vault or "")).get_secret(ref.name, ref.version)
    except ResourceNotFoundError:
        raise SecretNotFound(f"{ref} does not exist in Key Vault '{ref.vault}'") from None
    except ClientAuthenticationError as exc:
        # Also raised when DefaultAzureCredential finds no identity to use on this host.
        raise SecretBackendUnavailable(
            f"Key Vault '{ref.vault}' did not accept the hub's credential while resolving {ref}") from exc
    except HttpResponseError as exc:
        if exc.status_code == 403:
            raise SecretBackendUnavailable(
                f"the hub's identity may not read {ref} (Key Vault answered 403)") from exc
        raise SecretBackendUnavailable(
            f"Key Vault '{ref.vault}' answered {exc.status_code} while resolving {ref}") from exc
    except (AzureError, OSError) as exc:
        # OSError: the transport itself failed, e.g. a CA bundle path that does not exist.
        raise SecretBackendUnavailable(
            f"Key Vault '{ref.vault}' could not be reached (connection or TLS failure) while resolving {ref}",
        ) from exc
    except ValueError as exc:
        # The SDK refuses a challenge whose resource does not match the vault's host.
        raise SecretBackendUnavailable(
            f"Key Vault '{ref.vault}' sent an authentication challenge the SDK refused while resolving {ref}",
        ) from exc
    if secret.value is None:
        raise SecretNotFound(f"{ref} has no value in Key Vault '{ref.vault}'")
    return secret.value


def _client_for(url: str) -> SecretClient:
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = SecretClient(vault_url=url, credential=_credential_or_default(), **_client_options)
            _clients[url] = client
        return client


def _credential_or_default() -> TokenCredential:
    global _credential
    if _credential is None:
        # Imported here: azure.identity is heavy and only a kv:// resolution needs it.
        from azure.identity import DefaultAzureCredential

        _credential = DefaultAzureCredential()
    return _credential


def _close_clients() -> None:
    for client in _clients.values():
        client.close()
    _clients.clear()
