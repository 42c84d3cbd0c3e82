from django.db import models


class BenchRow(models.Model):
    """One row per request (bare DRF view) or per event (anymail receiver)."""

    source = models.CharField(max_length=20)
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
