"""Settings for bench/webhooks.py only: the hub's own settings plus the two baselines it is
measured against (a bare DRF insert view, and django-anymail's tracking webhooks). Never
used by the service or the test suite."""
import os

from config.settings import *  # noqa: F401,F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "anymail", "bench.baseline"]
ROOT_URLCONF = "bench.urls"
ANYMAIL = {
    "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": os.environ.get("BENCH_SENDGRID_PUBLIC_KEY", ""),
    "MAILGUN_WEBHOOK_SIGNING_KEY": os.environ.get("BENCH_MAILGUN_SIGNING_KEY", "unset"),
    "MAILGUN_API_KEY": "unused-by-the-bench",
}
