"""A third-party ERP implementing the hub's ERP interface: registered by the tenant, configured and
validated through the API, then receiving invoices, payments, expenses, approved reimbursements
and members; every request is checked against docs/provider-interfaces/erp.openapi.json."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from openapi_spec_validator import validate as validate_openapi

from integrations.secrets.services import secret_store
from iot.models import Member
from sync.models import Expense, InvoiceLine, InvoicePayment, Reimbursement, SyncRun, ThirdPartyProvider
from tests.sandboxes.hub_erp import DOCUMENT
from tests.sync.factories import invoices

pytestmark = pytest.mark.django_db
BASE = "/api/v1/sync/erp/configs"
MAPPING = {"license_fees": "3010", "tournament_fees": "3020", "bank": "1920", "receivables": "1500",
           "payables": "2400", "vat_input": "2710", "travel_expenses": "7140"}


def test_the_interface_document_is_valid_openapi():
    validate_openapi(json.loads(DOCUMENT.read_text(encoding="utf-8")))


@pytest.fixture
def erp(api, tenant, hub_erp_sandbox):
    ThirdPartyProvider.objects.create(tenant=tenant, key="acme-erp", display_name="Acme ERP",
                                      base_url=hub_erp_sandbox.url, capabilities=hub_erp_sandbox.capabilities,
                                      auth_ref=secret_store(tenant=tenant, name="acme", value=hub_erp_sandbox.api_key))
    created = api.post(f"{BASE}/", {"display_name": "Acme", "third_party": "acme-erp",
                                    "chart_of_accounts_mapping": MAPPING}, format="json")
    assert created.status_code == 201, created.json()
    config = created.json()
    validated = api.post(f"{BASE}/{config['id']}/validate/").json()
    assert validated["message"] == ("connected to Sandbox ERP (accepts invoices, payments, expenses, "
                                    "reimbursements, members)"), validated
    assert api.post(f"{BASE}/{config['id']}/activate/").status_code == 200
    return config


def _run(api, capture, scope: str) -> SyncRun:
    with capture(execute=True):
        answer = api.post("/api/v1/sync/runs/", {"integration_type": "erp/acme-erp", "scope": scope}, format="json")
    assert answer.status_code == 202, answer.json()
    return SyncRun.objects.get(pk=answer.json()["id"])


def test_records_reach_the_erp_by_reference_and_a_change_is_written_again(
        api, tenant, erp, hub_erp_sandbox, django_capture_on_commit_callbacks):
    first, _ = invoices(tenant, 2)
    InvoicePayment.objects.create(tenant=tenant, reference="PAY-1", invoice=first, amount=Decimal("450.00"),
                                  currency="SEK", paid_on=date(2026, 3, 20))
    Expense.objects.create(tenant=tenant, reference="EXP-1", description="Hallhyra", category="travel_expenses",
                           amount=Decimal("1000.00"), vat_rate=Decimal("25"), currency="SEK",
                           incurred_on=date(2026, 3, 3))
    Reimbursement.objects.create(tenant=tenant, reference="R-1", payee_name="Per", description="Bensin",
                                 category="travel_expenses", amount=Decimal("106.00"), vat_rate=Decimal("6"),
                                 currency="SEK", incurred_on=date(2026, 3, 4), approved=True)
    Member.objects.create(tenant=tenant, first_name="Anna", last_name="Ek", email="anna@example.org")

    run = _run(api, django_capture_on_commit_callbacks, "accounting")
    members = _run(api, django_capture_on_commit_callbacks, "members")

    assert (run.state, run.created_count, members.created_count) == ("succeeded", 5, 1)
    records = hub_erp_sandbox.records
    assert sorted(records["invoices"]) == ["INV-00001", "INV-00002"]
    second = records["invoices"]["INV-00002"]["body"]
    assert [line["account"] for line in second["lines"]] == ["3010", "3020"]
    assert second["totals"] == {"net": "2850.00", "vat": "600.00", "total": "3450.00"}
    reimbursement = records["reimbursements"]["R-1"]["body"]
    assert [(line["account"], line["debit"], line["credit"]) for line in reimbursement["lines"]] == [
        ("7140", "100.00", "0"), ("2710", "6.00", "0"), ("2400", "0", "106.00")]
    assert records["payments"]["PAY-1"]["body"]["invoice_remote_id"] == records["invoices"]["INV-00001"]["id"]
    assert list(records["members"].values())[0]["body"]["first_name"] == "Anna"

    InvoiceLine.objects.filter(invoice=first).update(unit_price=Decimal("500.00"))
    changed = _run(api, django_capture_on_commit_callbacks, "invoices")

    assert (changed.updated_count, changed.skipped_count, hub_erp_sandbox.updates) == (1, 1, 1)
    assert records["invoices"]["INV-00001"]["body"]["totals"]["total"] == "500.00"


def test_an_erp_config_names_a_registered_provider_of_the_tenant(api, tenant, other_tenant):
    ThirdPartyProvider.objects.create(tenant=other_tenant, key="theirs", display_name="Theirs",
                                      base_url="https://erp.example.com", auth_ref="local://x")

    answer = api.post(f"{BASE}/", {"display_name": "X", "third_party": "theirs"}, format="json")

    assert answer.status_code == 400
    assert "third_party" in answer.json()["errors"]
    bad_mapping = api.post(f"{BASE}/", {"display_name": "X", "third_party": "theirs",
                                        "chart_of_accounts_mapping": {"ice_cream": "1"}}, format="json")
    assert bad_mapping.status_code == 400


def test_a_blip_is_retried_and_a_record_the_erp_refuses_is_recorded(
        api, tenant, erp, hub_erp_sandbox, django_capture_on_commit_callbacks):
    invoice = invoices(tenant, 1)[0]
    Expense.objects.create(tenant=tenant, reference="EXP-1", description="Hallhyra", category="travel_expenses",
                           amount=Decimal("1000.00"), currency="SEK", incurred_on=date(2026, 3, 3))
    hub_erp_sandbox.capabilities.remove("expenses")  # the ERP stopped taking expenses
    hub_erp_sandbox.fail_next(1, status=503, headers={})

    run = _run(api, django_capture_on_commit_callbacks, "accounting")

    assert (run.state, run.created_count, run.failed_count) == ("partially_failed", 1, 1)
    assert list(hub_erp_sandbox.records["invoices"]) == [invoice.number]
    error = run.errors.get()
    assert (error.reference, error.code, error.retryable) == ("EXP-1", "http_400", False)
    assert [r.status for r in hub_erp_sandbox.requests if r.path != "/v1/status"] == [503, 201, 400]
