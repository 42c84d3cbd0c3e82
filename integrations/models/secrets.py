from __future__ import annotations

from django.db import models

from .tenancy import TenantOwned


class LocalSecret(TenantOwned):
    """One version of a secret in the built-in store, encrypted at rest (Fernet).

    Referenced as `local://<name>` (newest version) or `local://<name>/<version>`.
    """

    name = models.CharField(max_length=128)
    version = models.PositiveIntegerField()
    ciphertext = models.TextField()

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name", "version"], name="local_secret_version_uniq"),
        ]

    def __str__(self) -> str:
        return f"local://{self.name}/{self.version}"
