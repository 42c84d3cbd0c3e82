import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from integrations.models import UsageDaily
from integrations.services.usage import usage_record
from tests.factories import payment_gateway


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_increments_lose_no_count(tenant):
    integration = payment_gateway(tenant)
    workers, per_worker = 16, 50
    barrier = threading.Barrier(workers)
    failures = []

    def send():
        try:
            barrier.wait()
            for i in range(per_worker):
                usage_record(tenant_id=tenant.pk, integration_id=integration.pk, errors=int(i % 10 == 0), latency_ms=7)
        except Exception as exc:  # surfaced below; a thread's exception would otherwise vanish
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    rows = UsageDaily.objects.filter(integration=integration)
    assert sum(r.requests for r in rows) == workers * per_worker
    assert sum(r.errors for r in rows) == workers * per_worker // 10
    assert sum(r.latency_ms_total for r in rows) == workers * per_worker * 7
    assert rows.count() > 1  # spread over shards, not one hot row


@pytest.mark.django_db
def test_usage_endpoint_reports_totals_error_rate_burn_and_series(tenant, api):
    integration = payment_gateway(tenant, quota_limit=200, quota_period="month")
    today = timezone.now().date()
    for _ in range(30):
        usage_record(tenant_id=tenant.pk, integration_id=integration.pk, latency_ms=20)
    for _ in range(10):
        usage_record(tenant_id=tenant.pk, integration_id=integration.pk, errors=1, latency_ms=40)
    yesterday = today - timedelta(days=1)
    if yesterday.month == today.month:
        usage_record(tenant_id=tenant.pk, integration_id=integration.pk, day=yesterday, requests=10)

    body = api.get(f"/api/v1/integrations/payment-gateways/{integration.pk}/usage/?days=7").json()

    expected_requests = 50 if yesterday.month == today.month else 40
    assert body["totals"]["requests"] == 50  # 7-day window covers yesterday whatever the month
    assert body["totals"]["errors"] == 10
    assert body["totals"]["error_rate"] == 0.2
    assert body["quota"] == {"limit": 200, "period": "month", "used": expected_requests,
                             "burn_percent": round(100 * expected_requests / 200, 2),
                             "remaining": 200 - expected_requests}
    assert len(body["series"]) == 7
    assert body["series"][-1] == {"day": today.isoformat(), "requests": 40, "errors": 10,
                                  "avg_latency_ms": 25.0, "quota_burn_percent": None}
    assert body["series"][-2]["requests"] == 10


@pytest.mark.django_db
def test_usage_rejects_bad_query(tenant, api):
    integration = payment_gateway(tenant)

    assert api.get(f"/api/v1/integrations/payment-gateways/{integration.pk}/usage/?days=0").status_code == 400
    assert api.get(f"/api/v1/integrations/payment-gateways/{integration.pk}/usage/?days=x").status_code == 400
    assert api.get(f"/api/v1/integrations/payment-gateways/{integration.pk}/usage/?bogus=1").status_code == 400


@pytest.mark.django_db
def test_a_call_over_quota_is_refused_before_the_provider(tenant):
    from integrations.services.calls import QuotaExceeded, integration_call

    integration = payment_gateway(tenant, quota_limit=2, quota_period="day")
    usage_record(tenant_id=tenant.pk, integration_id=integration.pk, requests=2)
    calls = []

    with pytest.raises(QuotaExceeded, match="daily quota of 2"):
        integration_call(integration=integration, operation="probe", fn=lambda: calls.append(1))

    assert calls == []
