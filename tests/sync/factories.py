"""Builders for the sync tests: integrations in a state ready to push, and the hub's records."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from integrations.lifecycle import Status
from integrations.models import AccountingIntegration
from integrations.secrets.services import secret_store
from sync.models import Invoice, InvoiceLine

MAPPING = {"license_fees": "3010", "tournament_fees": "3020", "bank": "1930", "receivables": "1510",
           "payables": "2440", "vat_input": "2641", "travel_expenses": "5800", "venue_rental": "5010"}


def accounting_integration(tenant, provider: str, *, access_token: str = "", mapping: dict | None = None,
                           expires_in: timedelta = timedelta(hours=1), **fields) -> AccountingIntegration:
    """An active accounting integration as the connect flow and validation leave it."""
    values = {"display_name": f"{provider} books", "family": "accounting", "provider": provider,
              "status": Status.ACTIVE, "chart_of_accounts_mapping": MAPPING if mapping is None else mapping,
              "invoice_sync": True, "payment_sync": True, "expense_sync": True, "last_validation_passed": True,
              "last_validated_at": timezone.now()}
    if access_token:
        values.update(oauth_client_id="hub-client-0001",
                      oauth_access_token_ref=secret_store(tenant=tenant, name=f"{provider}-access", value=access_token),
                      oauth_token_expires_at=timezone.now() + expires_in)
    return AccountingIntegration.objects.create(tenant=tenant, **(values | fields))


def invoices(tenant, count: int, *, start: int = 1, customers: int = 12, prefix: str = "INV") -> list[Invoice]:
    """`count` invoices over `customers` customers; odd ones license fees, even ones a tournament fee too."""
    made = []
    for number in range(start, start + count):
        customer = 100 + number % customers
        invoice = Invoice.objects.create(
            tenant=tenant, number=f"{prefix}-{number:05d}", customer_number=str(customer),
            customer_name=f"Klubb {customer}", customer_email=f"kassor{customer}@example.org",
            issue_date=date(2026, 3, 1), due_date=date(2026, 3, 31), currency="SEK")
        lines = [InvoiceLine(invoice=invoice, position=1, description="Licensavgift 2026", category="license_fees",
                             quantity=Decimal("1"), unit_price=Decimal("450.00"), vat_rate=Decimal("0"))]
        if number % 2 == 0:
            lines.append(InvoiceLine(invoice=invoice, position=2, description="Seriespel vår",
                                     category="tournament_fees", quantity=Decimal("2"),
                                     unit_price=Decimal("1200.00"), vat_rate=Decimal("25")))
        InvoiceLine.objects.bulk_create(lines)
        made.append(invoice)
    return made


def oauth_connect(integration, *, client_id: str, client_secret: str) -> None:
    """What the connect flow leaves behind, done for real against the provider's (sandboxed)
    authorization server: a code exchanged for tokens, stored as versioned refs."""
    from urllib.parse import parse_qs, urlsplit

    import httpx

    from adapters import oauth
    from integrations.oauth.tokens import oauth_store_tokens

    provider = oauth.oauth_provider(integration.provider)
    pkce, redirect_uri = oauth.pkce_pair(), "https://hub.example.org/oauth/callback"
    url = oauth.authorization_url(provider, client_id=client_id, redirect_uri=redirect_uri, state="state-1",
                                  code_challenge=pkce.challenge)
    location = httpx.get(url, follow_redirects=False).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    tokens = oauth.exchange_code(provider, client_id=client_id, client_secret=client_secret, code=code,
                                 redirect_uri=redirect_uri, code_verifier=pkce.verifier if provider.pkce else None)
    fields = oauth_store_tokens(integration=integration, tokens=tokens, connected=True)
    fields.update(oauth_client_id=client_id, oauth_client_secret_ref=secret_store(
        tenant=integration.tenant, name=f"{integration.provider}-client-secret", value=client_secret))
    type(integration).objects.filter(pk=integration.pk).update(**fields)
    integration.refresh_from_db()
