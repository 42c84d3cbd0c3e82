import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from integrations.models import ApiKey, Membership, Tenant
from integrations.services.tenancy import api_key_create, tenant_user_create

DEMO_KEY_NAME = "quickstart"


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenant, its admin users and a fresh API key; print them."

    def add_arguments(self, parser):
        parser.add_argument("--slug", default="demo")

    @transaction.atomic
    def handle(self, *args, slug, **options):
        tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": "Demo Federation"})
        superuser_password = secrets.token_urlsafe(12)
        User = get_user_model()
        admin, _ = User.objects.get_or_create(username="admin")
        admin.is_staff = admin.is_superuser = True
        admin.set_password(superuser_password)
        admin.save()
        tenant_admin_password = secrets.token_urlsafe(12)
        tenant_user_create(tenant=tenant, username=f"{slug}-admin", password=tenant_admin_password,
                           role=Membership.Role.ADMIN)
        ApiKey.objects.filter(tenant=tenant, name=DEMO_KEY_NAME, revoked_at__isnull=True).update(
            revoked_at=timezone.now())
        _, plaintext = api_key_create(tenant=tenant, name=DEMO_KEY_NAME, scopes=["*"])
        self.stdout.write(
            "\n".join([
                "",
                f"  tenant        {tenant.slug} ({tenant.id})",
                f"  superuser     admin / {superuser_password}",
                f"  tenant admin  {slug}-admin / {tenant_admin_password}",
                f"  API key       {plaintext}",
                "",
                "  try:  curl -H 'Authorization: Api-Key <key>' http://127.0.0.1:8000/api/v1/tenant/",
                "",
            ])
        )
