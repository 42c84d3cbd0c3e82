from django.core.management.base import BaseCommand, CommandError

from integrations.errors import ApplicationError
from integrations.services.tenancy import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (a federation or club)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)

    def handle(self, *args, slug, name, **options):
        try:
            tenant = tenant_create(slug=slug, name=name)
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"created tenant {tenant.slug} ({tenant.id})")
