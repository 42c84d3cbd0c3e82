"""Settings → Integrations: the Django-admin wizard for adding, connecting, validating and
running integrations of every family, scoped to the admin's tenants."""
