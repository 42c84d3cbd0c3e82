"""The Fortnox sandbox's own promises, which the OAuth connect flow, the admin wizard's browser test
and the invoice pushes rely on: its authorization server (PKCE, client authentication, single-use
codes, rotating refresh tokens, errors sent back to the client or not at all) and its bookkeeping
checks (customers, accounts of the chart, balanced vouchers, scopes)."""
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters import oauth


def _authorize(sandbox, **params) -> httpx.Response:
    query = {"client_id": sandbox.client_id, "redirect_uri": "https://hub.test/cb", "response_type": "code",
             "scope": "companyinformation invoice", "state": "st-2", "access_type": "offline", **params}
    return httpx.get(f"{sandbox.url}/oauth-v1/auth", params={k: v for k, v in query.items() if v is not None})


def _redirect_query(response: httpx.Response) -> dict:
    assert response.status_code == 302 and response.headers["location"].startswith("https://hub.test/cb?")
    return {name: values[0] for name, values in parse_qs(urlsplit(response.headers["location"]).query).items()}


def _token(sandbox, form: dict, secret: str | None = None) -> httpx.Response:
    return httpx.post(f"{sandbox.url}/oauth-v1/token", data=form,
                      auth=(sandbox.client_id, secret or sandbox.client_secret))


def test_fortnox_oauth_server_checks_pkce_the_client_single_use_codes_and_rotation(fortnox_sandbox):
    verifier = oauth.pkce_pair().verifier
    codes = [_redirect_query(_authorize(fortnox_sandbox, code_challenge=oauth.pkce_challenge(verifier),
                                        code_challenge_method="S256"))["code"] for _ in range(2)]
    form = {"grant_type": "authorization_code", "code": codes[0], "redirect_uri": "https://hub.test/cb",
            "code_verifier": verifier}

    wrong_client = _token(fortnox_sandbox, form, secret="not-the-secret")
    wrong_verifier = _token(fortnox_sandbox, form | {"code": codes[1], "code_verifier": "x" * 43})
    granted = _token(fortnox_sandbox, form)
    reused = _token(fortnox_sandbox, form)
    headers = {"Authorization": f"Bearer {granted.json()['access_token']}"}
    company = httpx.get(f"{fortnox_sandbox.url}/3/companyinformation", headers=headers)
    customers = httpx.get(f"{fortnox_sandbox.url}/3/customers", headers=headers)
    refresh = {"grant_type": "refresh_token", "refresh_token": granted.json()["refresh_token"]}
    refreshed = _token(fortnox_sandbox, refresh)
    replayed = _token(fortnox_sandbox, refresh)

    assert (wrong_client.status_code, wrong_client.json()["error"]) == (401, "invalid_client")
    assert (wrong_verifier.status_code, wrong_verifier.json()["error"]) == (400, "invalid_grant")
    assert granted.status_code == 200 and granted.headers["cache-control"] == "no-store"
    assert (granted.json()["scope"], granted.json()["expires_in"], granted.json()["token_type"]) == (
        "companyinformation invoice", 3600, "bearer")
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    assert company.status_code == 200
    assert customers.status_code == 403
    assert "lacks the scope 'customer'" in customers.json()["ErrorInformation"]["message"]
    assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != granted.json()["refresh_token"]
    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize("params, error", [
    ({"state": None}, "invalid_request"),
    ({"scope": "companyinformation payroll"}, "invalid_scope"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"code_challenge": "abc", "code_challenge_method": "plain"}, "invalid_request"),
    ({"deny": True}, "access_denied"),
])
def test_fortnox_authorization_errors_go_back_to_the_client(fortnox_sandbox, params, error):
    if params.pop("deny", False):
        fortnox_sandbox.deny_next_authorization()

    query = _redirect_query(_authorize(fortnox_sandbox, **params))

    assert query["error"] == error and "code" not in query


def test_fortnox_authorization_never_redirects_for_an_unknown_client_or_uri(accounting_sandbox):
    sandbox = accounting_sandbox("fortnox", redirect_uris=("https://hub.test/cb",))

    unknown_client = _authorize(sandbox, client_id="someone-else")
    unknown_uri = _authorize(sandbox, redirect_uri="https://evil.test/cb")

    assert (unknown_client.status_code, unknown_uri.status_code) == (400, 400)
    assert "location" not in unknown_client.headers and "location" not in unknown_uri.headers


def test_fortnox_bookkeeping_checks_customers_accounts_and_balance(fortnox_sandbox):
    client = httpx.Client(base_url=fortnox_sandbox.url,
                          headers={"Authorization": f"Bearer {fortnox_sandbox.access_token}"})
    rows = [{"AccountNumber": 3010, "DeliveredQuantity": 2, "Price": 250, "Description": "License 2026"}]
    voucher = {"VoucherSeries": "A", "TransactionDate": "2026-03-01",
               "VoucherRows": [{"Account": 1930, "Debit": 500}, {"Account": 3010, "Credit": 500}]}

    customer = client.post("/3/customers", json={"Customer": {"Name": "Klubb Nord"}})
    invoice = client.post("/3/invoices", json={"Invoice": {"CustomerNumber": "1", "InvoiceRows": rows}})
    bad_account = client.post("/3/invoices", json={"Invoice": {"CustomerNumber": "1",
                                                               "InvoiceRows": [{"AccountNumber": 4999}]}})
    unbalanced = client.post("/3/vouchers", json={"Voucher": voucher | {"VoucherRows": voucher["VoucherRows"][:1] * 2}})
    booked = client.post("/3/vouchers", json={"Voucher": voucher})

    assert customer.status_code == 201 and customer.json()["Customer"]["CustomerNumber"] == "1"
    assert invoice.status_code == 201 and (invoice.json()["Invoice"]["DocumentNumber"],
                                           invoice.json()["Invoice"]["Total"]) == ("1", 500.0)
    assert bad_account.status_code == 400 and bad_account.json()["ErrorInformation"]["code"] == 2000423
    assert unbalanced.status_code == 400 and "does not balance" in unbalanced.json()["ErrorInformation"]["message"]
    assert booked.status_code == 201 and client.get("/3/vouchers/A/1").json()["Voucher"]["VoucherNumber"] == 1
    assert fortnox_sandbox.control_state()["invoices"] == 1
