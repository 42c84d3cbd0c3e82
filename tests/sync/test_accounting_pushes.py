"""Each accounting adapter against its sandbox: invoices, a payment, an expense and an approved
reimbursement pushed with the chart-of-accounts mapping (and nothing twice), a retryable failure
retried, a permanent refusal recorded on the record, and a token the provider stops accepting
refreshed once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.models import AccountingIntegration
from integrations.secrets.services import secret_store
from sync.models import Expense, Invoice, InvoicePayment, Reimbursement, SyncLogEntry, SyncRecordError, SyncRun
from tests.sandboxes.quickbooks import DEFAULT_REALM_ID
from tests.sandboxes.uniconomy import DEFAULT_COMPANY_KEY
from tests.sandboxes.xero import DEFAULT_TENANT_ID, _account
from tests.sync.factories import accounting_integration, invoices, oauth_connect

pytestmark = pytest.mark.django_db
OAUTH = ("fortnox", "xero", "quickbooks", "visma", "visma_net", "uniconomy")
PROVIDERS = (*OAUTH, "tripletex", "xledger")
BAS = {"license_fees": "3010", "tournament_fees": "3020", "bank": "1930", "receivables": "1510",
       "payables": "2440", "vat_input": "2641", "vat_output": "2611", "travel_expenses": "5800"}
NORWEGIAN = {"license_fees": "3010", "tournament_fees": "3020", "bank": "1920", "receivables": "1500",
             "payables": "2400", "vat_input": "2710", "vat_output": "2700", "travel_expenses": "7140"}


@dataclass(frozen=True)
class Setup:
    mapping: dict
    unknown_account: str  # an account code the provider's chart does not have
    landed: callable  # documents (not parties) the sandbox holds
    company_id: str = ""


def _prepare(provider: str, sandbox) -> None:
    """Chart and customers the tests' records need, on top of each sandbox's defaults."""
    if provider == "fortnox":
        sandbox.accounts[2440] = "Leverantörsskulder"
        for number in range(100, 112):
            sandbox.customers[str(number)] = {"CustomerNumber": str(number), "Name": f"Klubb {number}"}
    elif provider == "xero":
        sandbox.accounts += [_account("420", "Travel", "EXPENSE"), _account("800", "Accounts Payable", "CURRLIAB")]
    elif provider == "visma_net":
        sandbox.accounts += [
            {"accountID": n, "accountCD": code, "description": code, "type": "Expense", "active": True,
             "accountGroupCD": None, "controlAccountModule": None}
            for n, code in ((6, "2400"), (7, "2700"), (8, "2710"), (9, "7140"))]


SETUPS = {
    "fortnox": Setup(BAS, "3999", lambda s: len(s.invoices) + len(s.invoicepayments) + len(s.vouchers)),
    "xero": Setup({"license_fees": "3010", "tournament_fees": "3020", "bank": "090", "payables": "800",
                   "vat_input": "820", "travel_expenses": "420"}, "999",
                  lambda s: len(s.invoices) + len(s.payments), DEFAULT_TENANT_ID),
    "quickbooks": Setup({"license_fees": "1", "tournament_fees": "2", "bank": "35", "payables": "33",
                         "vat_input": "90", "travel_expenses": "7"}, "77",
                        lambda s: sum(len(s.entities[e]) for e in ("invoice", "payment", "journalentry")),
                        DEFAULT_REALM_ID),
    "visma": Setup({**BAS, "travel_expenses": "5800"}, "3999", lambda s: len(s.customerinvoices) + len(s.vouchers)),
    "visma_net": Setup(NORWEGIAN, "3999", lambda s: sum(len(rows) for rows in s.documents.values()),
                       "0f9a7b7e-7c1e-4a8b-9a41-1b2c3d4e5f60"),
    "uniconomy": Setup(NORWEGIAN, "3999", lambda s: len(s.invoices) + len(s.journalentries), DEFAULT_COMPANY_KEY),
    "tripletex": Setup(NORWEGIAN, "3999", lambda s: len(s.vouchers)),
    "xledger": Setup(NORWEGIAN, "3999", lambda s: len({item["yourReference"] for item in s.gl_items})),
}


def _integration(tenant, provider: str, sandbox, *, mapping: dict | None = None) -> AccountingIntegration:
    setup = SETUPS[provider]
    fields = {"mapping": mapping or setup.mapping, "company_id": setup.company_id}
    if provider == "tripletex":
        return accounting_integration(
            tenant, provider, **fields,
            oauth_client_secret_ref=secret_store(tenant=tenant, name="consumer", value=sandbox.consumer_token),
            api_key_ref=secret_store(tenant=tenant, name="employee", value=sandbox.employee_token))
    if provider == "xledger":
        return accounting_integration(tenant, provider, **fields,
                                      api_key_ref=secret_store(tenant=tenant, name="token", value=sandbox.api_token))
    return accounting_integration(tenant, provider, access_token=sandbox.access_token, **fields)


def _records(tenant) -> None:
    first, second = invoices(tenant, 2, customers=2)
    InvoicePayment.objects.create(tenant=tenant, reference="PAY-1", invoice=first, amount=Decimal("450.00"),
                                  currency="SEK", paid_on=date(2026, 3, 20))
    Expense.objects.create(tenant=tenant, reference="EXP-1", description="Domarresa", category="travel_expenses",
                           amount=Decimal("800.00"), vat_rate=Decimal("25"), currency="SEK",
                           incurred_on=date(2026, 3, 5), payee_name="SJ AB", payee_number="900")
    for reference, approved in (("REIMB-1", True), ("REIMB-2", False)):
        Reimbursement.objects.create(tenant=tenant, reference=reference, payee_name="Anna Domare",
                                     description="Tåg till matchen", category="travel_expenses",
                                     amount=Decimal("312.50"), vat_rate=Decimal("6"), currency="SEK",
                                     incurred_on=date(2026, 3, 6), approved=approved)
    assert second.number == "INV-00002"


def _run(api, provider: str, scope: str = "accounting", django_capture_on_commit_callbacks=None) -> SyncRun:
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post("/api/v1/sync/runs/", {"integration_type": f"accounting/{provider}", "scope": scope},
                          format="json")
    assert answer.status_code == 202, answer.json()
    return SyncRun.objects.get(pk=answer.json()["id"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_invoices_payments_expenses_and_approved_reimbursements_land_once(
        api, tenant, accounting_sandbox, provider, django_capture_on_commit_callbacks):
    sandbox = accounting_sandbox(provider)
    _prepare(provider, sandbox)
    _integration(tenant, provider, sandbox)
    _records(tenant)

    run = _run(api, provider, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)

    assert (run.state, run.read_count, run.created_count, run.failed_count) == ("succeeded", 5, 5, 0), \
        list(run.errors.values_list("message", flat=True))
    assert SETUPS[provider].landed(sandbox) == 5
    log = SyncLogEntry.objects.exclude(record_type__in=["customer", "supplier"])
    assert sorted(log.values_list("record_type", "reference", "state")) == [
        ("expense", "EXP-1", "synced"), ("invoice", "INV-00001", "synced"), ("invoice", "INV-00002", "synced"),
        ("payment", "PAY-1", "synced"), ("reimbursement", "REIMB-1", "synced")]
    assert all(log.values_list("remote_id", flat=True))
    requests_after_first = sandbox.request_count

    again = _run(api, provider, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)

    assert (again.state, again.skipped_count, again.created_count) == ("succeeded", 5, 0)
    assert sandbox.request_count == requests_after_first


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_retryable_failure_is_retried_and_counted(api, tenant, accounting_sandbox, provider,
                                                    django_capture_on_commit_callbacks):
    sandbox = accounting_sandbox(provider)
    _prepare(provider, sandbox)
    integration = _integration(tenant, provider, sandbox)
    invoices(tenant, 1)
    sandbox.fail_next(1, status=503, headers={})

    run = _run(api, provider, "invoices", django_capture_on_commit_callbacks)

    assert (run.state, run.created_count, run.attempts) == ("succeeded", 1, 1)
    assert [r.status for r in sandbox.requests][0] == 503
    assert SETUPS[provider].landed(sandbox) == 1
    usage = api.get(f"/api/v1/integrations/accounting/{integration.pk}/usage/").json()["totals"]
    # Usage counts calls; Tripletex's session and account-id reads travel inside the call needing them.
    calls = 4 if provider == "tripletex" else sandbox.request_count
    assert (usage["requests"], usage["errors"]) == (calls, 1)


def test_a_provider_asking_to_wait_longer_than_a_call_may_gets_the_run_retried_later(
        api, tenant, fortnox_sandbox, django_capture_on_commit_callbacks):
    _prepare("fortnox", fortnox_sandbox)
    integration = _integration(tenant, "fortnox", fortnox_sandbox)
    invoices(tenant, 1)
    fortnox_sandbox.fail_next(1, status=429, headers={"Retry-After": "30"})

    run = _run(api, "fortnox", "invoices", django_capture_on_commit_callbacks)

    # The task retried the run (at once, tasks being eager here; a worker waits the 30 seconds)
    assert (run.state, run.attempts, run.created_count) == ("succeeded", 2, 1)
    assert [r.status for r in fortnox_sandbox.requests] == [429, 201]
    usage = api.get(f"/api/v1/integrations/accounting/{integration.pk}/usage/").json()["totals"]
    assert (usage["requests"], usage["errors"]) == (2, 1)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_permanent_refusal_is_recorded_on_the_record_and_not_retried(
        api, tenant, accounting_sandbox, provider, django_capture_on_commit_callbacks):
    sandbox = accounting_sandbox(provider)
    _prepare(provider, sandbox)
    mapping = {**SETUPS[provider].mapping, "license_fees": SETUPS[provider].unknown_account}
    _integration(tenant, provider, sandbox, mapping=mapping)
    invoice = invoices(tenant, 1)[0]

    run = _run(api, provider, "invoices", django_capture_on_commit_callbacks)

    assert (run.state, run.failed_count, run.created_count) == ("partially_failed", 1, 0)
    error = SyncRecordError.objects.get(run=run)
    assert (error.record_type, error.reference, error.retryable) == ("invoice", "INV-00001", False)
    detail = api.get(f"/api/v1/sync/invoices/{invoice.pk}/").json()
    assert [(entry["state"], entry["last_error"]) for entry in detail["sync"]] == [("failed", error.message)]
    sent = [(r.method, r.path, r.query_string, r.body) for r in sandbox.requests]
    assert len(sent) == len(set(sent))  # nothing was sent twice: a refusal is not retried
    assert SETUPS[provider].landed(sandbox) == 0
    sandbox.take_violations()


def _serve_oauth_tokens(sandbox, server) -> None:
    """The provider's API accepts the access tokens its own authorization server issues."""
    original = sandbox.authenticate

    def authenticate(request):
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme == "Bearer" and server.access_token_is_live(token):
            request.headers["authorization"] = f"Bearer {sandbox.access_token}"
        return original(request)

    sandbox.authenticate = authenticate


@pytest.mark.parametrize("provider", OAUTH)
def test_an_access_token_the_provider_refuses_is_refreshed_once(
        api, tenant, accounting_sandbox, oauth_server_for, provider, django_capture_on_commit_callbacks):
    sandbox = accounting_sandbox(provider)
    _prepare(provider, sandbox)
    integration = _integration(tenant, provider, sandbox)
    if provider == "fortnox":
        server, client = sandbox, (sandbox.client_id, sandbox.client_secret)
    else:
        server = oauth_server_for(provider)
        client = (server.client_id, server.client_secret)
        _serve_oauth_tokens(sandbox, server)
    oauth_connect(integration, client_id=client[0], client_secret=client[1])
    first_refresh_ref = integration.oauth_refresh_token_ref
    invoices(tenant, 1)
    server.expire_access_tokens()  # the stored token still looks valid for an hour

    run = _run(api, provider, "invoices", django_capture_on_commit_callbacks)

    assert (run.state, run.created_count) == ("succeeded", 1)
    statuses = [r.status for r in sandbox.requests if not r.path.startswith(("/oauth", "/token", "/authorize"))]
    assert statuses[0] == 401 and statuses[-1] < 300 and statuses.count(401) == 1
    integration.refresh_from_db()
    assert integration.oauth_refresh_token_ref != first_refresh_ref  # the rotated refresh token was kept
    assert integration.oauth_token_expires_at > timezone.now() + timedelta(minutes=50)


def test_a_tripletex_session_that_expired_is_opened_again(api, tenant, accounting_sandbox,
                                                          django_capture_on_commit_callbacks):
    sandbox = accounting_sandbox("tripletex")
    _integration(tenant, "tripletex", sandbox)
    invoices(tenant, 1)
    _run(api, "tripletex", "invoices", django_capture_on_commit_callbacks)
    sandbox.expire_sessions()
    invoices(tenant, 1, start=2)

    run = _run(api, "tripletex", "invoices", django_capture_on_commit_callbacks)

    assert (run.state, run.created_count) == ("succeeded", 1)
    assert [r.path for r in sandbox.requests].count("/v2/token/session/:create") == 2
    assert len(sandbox.vouchers) == 2
