"""Reads of usage rollups: totals, error rate, quota burn and a per-day series."""
from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Sum
from django.utils import timezone

from integrations.models import Integration, QuotaPeriod, UsageDaily


def _period_start(period: str, today: date) -> date:
    return today if period == QuotaPeriod.DAY else today.replace(day=1)


def usage_quota_used(*, integration: Integration, today: date | None = None) -> int:
    today = today or timezone.now().date()
    start = _period_start(integration.quota_period, today)
    used = (UsageDaily.objects.filter(integration_id=integration.pk, day__gte=start, day__lte=today)
            .aggregate(units=Sum("quota_units"))["units"])
    return int(used or 0)


def usage_summary(*, tenant, integration: Integration, days: int = 30) -> dict:
    today = timezone.now().date()
    since = today - timedelta(days=days - 1)
    rows = (UsageDaily.objects.filter(tenant=tenant, integration_id=integration.pk, day__gte=since)
            .values("day").annotate(requests=Sum("requests"), errors=Sum("errors"),
                                    latency_ms_total=Sum("latency_ms_total"), quota_units=Sum("quota_units"))
            .order_by("day"))
    by_day = {row["day"]: row for row in rows}
    limit = integration.quota_limit
    series = []
    for offset in range(days):
        day = since + timedelta(days=offset)
        row = by_day.get(day, {})
        requests, errors = int(row.get("requests") or 0), int(row.get("errors") or 0)
        units = int(row.get("quota_units") or 0)
        series.append({
            "day": day.isoformat(), "requests": requests, "errors": errors,
            "avg_latency_ms": round(int(row.get("latency_ms_total") or 0) / requests, 1) if requests else None,
            "quota_burn_percent": (round(100 * units / limit, 2)
                                   if limit and integration.quota_period == QuotaPeriod.DAY else None),
        })
    total_requests = sum(d["requests"] for d in series)
    total_errors = sum(d["errors"] for d in series)
    latency_total = sum(int(r.get("latency_ms_total") or 0) for r in by_day.values())
    used = usage_quota_used(integration=integration, today=today)
    return {
        "integration_id": str(integration.pk),
        "days": days,
        "totals": {
            "requests": total_requests,
            "errors": total_errors,
            "error_rate": round(total_errors / total_requests, 4) if total_requests else 0.0,
            "avg_latency_ms": round(latency_total / total_requests, 1) if total_requests else None,
        },
        "quota": {
            "limit": limit, "period": integration.quota_period, "used": used,
            "burn_percent": round(100 * used / limit, 2) if limit else None,
            "remaining": max(limit - used, 0) if limit else None,
        },
        "series": series,
    }
