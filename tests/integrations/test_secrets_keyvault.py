"""kv:// refs through the real azure-keyvault-secrets client against a loopback HTTPS vault."""
from __future__ import annotations

import pytest

from adapters.redaction import redact
from integrations.secrets.errors import SecretBackendUnavailable, SecretNotFound
from integrations.secrets.keyvault import keyvault_configure, keyvault_reset
from integrations.secrets.services import secret_cache_clear, secret_resolve
from tests.sandboxes.keyvault import KEYVAULT_RESOURCE, KeyVaultSandbox, SandboxCredential

pytestmark = pytest.mark.django_db


@pytest.fixture
def vault(settings):
    """A sandbox vault that the hub reaches with a test credential, trusting the sandbox CA.

    verify_challenge_resource=False: the sandbox answers, as Key Vault does, with
    resource="https://vault.azure.net", which 127.0.0.1 is not a subdomain of, so the SDK's
    look-alike-host check would refuse it (see the test below that keeps the check on).
    """
    secret_cache_clear()
    with KeyVaultSandbox() as sandbox:
        settings.AZURE_KEYVAULT_URL_TEMPLATE = sandbox.url
        keyvault_configure(credential=sandbox.credential, connection_verify=sandbox.ca_file,
                           verify_challenge_resource=False)
        yield sandbox
    keyvault_reset()
    secret_cache_clear()


def test_challenge_then_bearer_token_then_the_versioned_secret(tenant, vault):
    version = vault.set_secret("stripe-key", "sk_test_from_key_vault")

    value = secret_resolve(tenant=tenant, ref=f"kv://hub-vault/stripe-key/{version}")

    assert value == "sk_test_from_key_vault"
    first, second = vault.requests
    assert (first.path, first.authorization) == (f"/secrets/stripe-key/{version}", None)
    assert (second.path, second.authorization) == (f"/secrets/stripe-key/{version}", f"Bearer {vault.token}")
    assert second.query["api-version"] == ["2026-04-01"]
    assert vault.credential.calls == [
        {"scopes": (f"{KEYVAULT_RESOURCE}/.default",), "tenant_id": vault.directory_tenant}]


def test_versionless_ref_gets_the_current_version_and_is_cached(tenant, vault):
    vault.set_secret("smtp-password", "old-smtp-password")
    vault.set_secret("smtp-password", "new-smtp-password")

    first = secret_resolve(tenant=tenant, ref="kv://hub-vault/smtp-password")
    requests_after_first = len(vault.requests)
    again = secret_resolve(tenant=tenant, ref="kv://hub-vault/smtp-password")

    assert first == again == "new-smtp-password"
    assert vault.requests[-1].path == "/secrets/smtp-password/"
    assert len(vault.requests) == requests_after_first
    assert redact("password new-smtp-password used") == "password [REDACTED] used"


def test_unknown_secret_is_not_found_naming_the_ref(tenant, vault):
    with pytest.raises(SecretNotFound) as caught:
        secret_resolve(tenant=tenant, ref="kv://hub-vault/no-such-secret")

    assert caught.value.status == 400
    assert caught.value.detail == "kv://hub-vault/no-such-secret does not exist in Key Vault 'hub-vault'"


def test_vault_down_is_backend_unavailable(tenant, vault):
    vault.set_secret("stripe-key", "unreachable-value")
    keyvault_configure(credential=vault.credential, connection_verify=vault.ca_file,
                       verify_challenge_resource=False, retry_total=0)
    vault.stop()

    with pytest.raises(SecretBackendUnavailable) as caught:
        secret_resolve(tenant=tenant, ref="kv://hub-vault/stripe-key")

    assert caught.value.status == 503
    assert caught.value.detail == ("Key Vault 'hub-vault' could not be reached (connection or TLS failure) "
                                   "while resolving kv://hub-vault/stripe-key")


def test_a_token_the_vault_refuses_is_backend_unavailable(tenant, vault):
    vault.set_secret("stripe-key", "refused-value")
    keyvault_configure(credential=SandboxCredential("not-the-vaults-token"), connection_verify=vault.ca_file,
                       verify_challenge_resource=False)

    with pytest.raises(SecretBackendUnavailable) as caught:
        secret_resolve(tenant=tenant, ref="kv://hub-vault/stripe-key")

    assert caught.value.status == 503
    assert "did not accept the hub's credential while resolving kv://hub-vault/stripe-key" in caught.value.detail


def test_with_resource_verification_on_no_token_goes_to_a_foreign_host(tenant, vault):
    vault.set_secret("stripe-key", "guarded-value")
    credential = SandboxCredential(vault.token)
    keyvault_configure(credential=credential, connection_verify=vault.ca_file)

    with pytest.raises(SecretBackendUnavailable, match="challenge the SDK refused"):
        secret_resolve(tenant=tenant, ref="kv://hub-vault/stripe-key")

    assert credential.calls == []
    assert all(request.authorization is None for request in vault.requests)


def test_an_untrusted_certificate_is_backend_unavailable(tenant, vault):
    vault.set_secret("stripe-key", "tls-guarded-value")
    keyvault_configure(credential=vault.credential, verify_challenge_resource=False, retry_total=0)

    with pytest.raises(SecretBackendUnavailable, match=r"could not be reached \(connection or TLS failure\)"):
        secret_resolve(tenant=tenant, ref="kv://hub-vault/stripe-key")

    assert vault.credential.calls == []
