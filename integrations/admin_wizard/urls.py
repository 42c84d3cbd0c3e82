"""Mounted under /admin/settings/integrations/ (config/urls.py), inside the admin's login and
staff check (`admin.site.admin_view`)."""
from django.contrib import admin
from django.urls import path

from integrations.admin_wizard import views

app_name = "integrations_wizard"
# The admin home links to Settings → Integrations through this template, which adds one
# module above the model list (AdminSite.index_template, a documented hook).
admin.site.index_template = "admin/integrations/wizard/admin_index.html"


def _admin(view):
    return admin.site.admin_view(view)


urlpatterns = [
    path("", _admin(views.integration_list_view), name="list"),
    path("add/", _admin(views.choose_family_view), name="choose-family"),
    path("add/<slug:family>/", _admin(views.choose_provider_view), name="choose-provider"),
    path("add/<slug:family>/<slug:provider>/", _admin(views.create_view), name="create"),
    path("<uuid:pk>/", _admin(views.detail_view), name="detail"),
    path("<uuid:pk>/change/", _admin(views.edit_view), name="edit"),
    path("<uuid:pk>/connect/", _admin(views.connect_view), name="connect"),
    path("<uuid:pk>/validate/", _admin(views.validate_view), name="validate"),
    path("<uuid:pk>/<slug:action>/", _admin(views.action_view), name="action"),
]
