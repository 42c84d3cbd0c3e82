"""The baselines: (a) the least a DRF endpoint does to take a JSON post and keep it, and
(b) django-anymail's tracking webhooks with a receiver that saves one row per event."""
from anymail.signals import tracking
from django.dispatch import receiver
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.baseline.models import BenchRow


class BareInsertApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        BenchRow.objects.create(source="drf", body=request.data)
        return Response({"ok": True})


@receiver(tracking)
def keep_tracking_event(sender, event, esp_name, **kwargs):
    BenchRow.objects.create(source=esp_name[:20], body={"event_id": event.event_id, "type": event.event_type})
