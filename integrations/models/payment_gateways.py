from __future__ import annotations

from django.db import models

from .base import Integration
from .tenancy import TenantOwned


class PaymentGatewayIntegration(Integration):
    class Provider(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        PAYPAL = "paypal", "PayPal"
        SWISH = "swish", "Swish"
        IDEAL = "ideal", "iDEAL"
        MERCADO_PAGO = "mercado_pago", "Mercado Pago"
        PAGSEGURO = "pagseguro", "PagSeguro"

    supported_currencies = models.JSONField(default=list)
    default_currency = models.CharField(max_length=3, blank=True)
    merchant_account_id = models.CharField(max_length=200, blank=True)
    oauth_client_id = models.CharField(max_length=300, blank=True)
    api_key_ref = models.CharField(max_length=512, blank=True)
    oauth_client_secret_ref = models.CharField(max_length=512, blank=True)
    signing_certificate_ref = models.CharField(max_length=512, blank=True)
    webhook_signing_key_ref = models.CharField(max_length=512, blank=True)


class Payment(TenantOwned):
    """A payment the hub asks a gateway to create; written queued, submitted by a task."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SUBMITTING = "submitting", "Submitting"
        SUBMITTED = "submitted", "Submitted"
        REQUIRES_ACTION = "requires_action", "Requires action"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    integration = models.ForeignKey(PaymentGatewayIntegration, on_delete=models.PROTECT, related_name="payments")
    amount = models.PositiveBigIntegerField(help_text="In the currency's minor unit")
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=500, blank=True)
    customer_email = models.EmailField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    provider_payment_id = models.CharField(max_length=100, blank=True, db_index=True)
    client_secret_present = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="payment_idempotency_uniq")]
