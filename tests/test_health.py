import pytest
from django.test import Client

from tests.factories import payment_gateway


@pytest.mark.django_db
def test_healthz_and_readyz_answer():
    client = Client()

    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["ok"] is True


@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_checks_the_real_redis(settings, redis_url):
    settings.REDIS_URL = redis_url

    body = Client().get("/readyz").json()

    assert body["checks"]["redis"]["ok"] is True


@pytest.mark.django_db
def test_readyz_reports_a_stopped_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: Redis is down

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["redis"] == {"ok": False, "error": "ConnectionError",
                                                 "latency_ms": response.json()["checks"]["redis"]["latency_ms"]}
    assert response.json()["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_readyz_reports_a_stopped_broker(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


@pytest.mark.django_db
def test_metrics_exposes_provider_call_counters(tenant):
    from integrations.services.calls import integration_call

    integration = payment_gateway(tenant)
    integration_call(integration=integration, operation="metrics-probe", fn=lambda: "ok")

    text = Client().get("/metrics").content.decode()

    assert ('integration_requests_total{family="payment-gateways",operation="metrics-probe",outcome="success",'
            'provider="stripe"}') in text
    assert "integration_request_duration_seconds_bucket" in text
    assert "integration_errors_total" in text
