from django.core.management.base import BaseCommand, CommandError

from integrations.errors import ApplicationError
from integrations.models import Tenant
from integrations.services.tenancy import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a tenant and print it once."

    def add_arguments(self, parser):
        parser.add_argument("tenant_slug")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--scopes", nargs="+", default=["*"],
                            help="scope grants, e.g. 'integrations:write' '*:read' (default: '*')")

    def handle(self, *args, tenant_slug, name, scopes, **options):
        tenant = Tenant.objects.filter(slug=tenant_slug).first()
        if tenant is None:
            raise CommandError(f"no tenant with slug '{tenant_slug}'")
        try:
            key, plaintext = api_key_create(tenant=tenant, name=name, scopes=scopes)
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
        self.stderr.write(f"API key {key.prefix} for {tenant.slug} (scopes: {' '.join(key.scopes)}); "
                          "it is shown only now:")
        self.stdout.write(plaintext)
