from django.urls import include, path

from bench.baseline.views import BareInsertApi
from config.urls import urlpatterns as hub_urlpatterns

urlpatterns = [
    path("bench/drf/", BareInsertApi.as_view()),
    path("anymail/", include("anymail.urls")),
    *hub_urlpatterns,
]
