"""Settings → Integrations in the Django admin: list, add (family → provider → form), and one
page per integration with Connect, Validate, the lifecycle actions and the usage panel.

Views are thin: the family's serializer validates, the services write, the selectors read.
Tenancy comes from admin_scoping.admin_tenants: another tenant's integration is a 404, and
members (read-only) get a 403 on every write.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from integrations.admin_scoping import admin_tenants
from integrations.admin_wizard.charts import usage_chart_svg
from integrations.admin_wizard.forms import build_form, save_integration
from integrations.errors import ApplicationError
from integrations.families.registry import FamilySpec, families
from integrations.families.serializers import output_serializer_for
from integrations.lifecycle import USER_ACTIONS, Status, allowed_actions
from integrations.models import Family, Integration, LifecycleTransition, Tenant, ValidationRun
from integrations.oauth.services import oauth_provider_for, oauth_start
from integrations.selectors.usage import usage_summary
from integrations.services.integrations import integration_create, integration_update, integration_validate
from integrations.services.lifecycle import integration_transition

ACTION_DONE = {"activate": "activated", "pause": "paused", "resume": "resumed", "decommission": "decommissioned"}
# Shown on the integration page: what the output serializer returns minus bookkeeping noise.
_SUMMARY_HIDDEN = {"id", "family", "provider", "display_name", "status", "status_reason", "status_changed_at",
                   "allowed_actions", "last_validated_at", "last_validation_passed", "last_validation_message",
                   "created_at", "updated_at", "config_changed_at", "oauth_connected_at", "oauth_token_expires_at",
                   "oauth_scopes"}


def _actor(request) -> str:
    return f"admin:{request.user.get_username()}"


def _writable_tenants(request) -> list[Tenant]:
    return list(admin_tenants(request.user, write=True))


def _spec(family: str) -> FamilySpec:
    spec = families().get(family)
    if spec is None:
        raise Http404("unknown integration family")
    return spec


def _integration(request, pk, *, write: bool = False) -> Integration:
    integration = Integration.objects.filter(pk=pk, tenant__in=admin_tenants(request.user)).first()
    if integration is None:
        raise Http404("integration not found")
    if write and not admin_tenants(request.user, write=True).filter(pk=integration.tenant_id).exists():
        raise PermissionDenied("members of this tenant may read its integrations, not change them")
    return integration.specific()


def _detail_url(integration: Integration) -> str:
    return reverse("integrations_wizard:detail", args=[integration.pk])


def _render(request, template: str, title: str, context: dict) -> TemplateResponse:
    return TemplateResponse(request, f"admin/integrations/wizard/{template}",
                            {**admin.site.each_context(request), "title": title, **context})


def _provider_name(integration: Integration) -> str:
    spec = families().get(integration.family)
    binding = spec.providers.get(integration.provider) if spec else None
    return binding.display_name if binding else integration.provider


def integration_list_view(request):
    tenants = admin_tenants(request.user)
    rows = (Integration.objects.filter(tenant__in=tenants).select_related("tenant")
            .order_by("family", "display_name"))
    labels = dict(Family.choices)
    return _render(request, "list.html", "Integrations", {
        "rows": [{"integration": i, "family_label": labels.get(i.family, i.family),
                  "provider_name": _provider_name(i)} for i in rows],
        "can_add": bool(_writable_tenants(request)),
        "show_tenant": tenants.count() > 1,
    })


def choose_family_view(request):
    if not _writable_tenants(request):
        raise PermissionDenied("only tenant admins add integrations")
    choices = [{"slug": slug, "label": spec.label or slug,
                "providers": [binding.display_name for binding in spec.providers.values()]}
               for slug, spec in sorted(families().items(), key=lambda item: item[1].label or item[0])]
    return _render(request, "choose_family.html", "Add an integration", {"families": choices})


def choose_provider_view(request, family: str):
    if not _writable_tenants(request):
        raise PermissionDenied("only tenant admins add integrations")
    spec = _spec(family)
    providers = [{"key": key, "name": binding.display_name,
                  "oauth": oauth_provider_for(spec.model(provider=key)) is not None}
                 for key, binding in spec.providers.items()]
    return _render(request, "choose_provider.html", f"Add {spec.label or family}: choose the provider",
                   {"spec": spec, "family": family, "providers": providers})


def create_view(request, family: str, provider: str):
    tenants = _writable_tenants(request)
    if not tenants:
        raise PermissionDenied("only tenant admins add integrations")
    spec = _spec(family)
    if provider not in spec.providers:
        raise Http404("unknown provider for this family")
    tenant_error = ""
    if request.method == "POST":
        form = build_form(spec, provider, posted=request.POST)
        tenant = _chosen_tenant(request, tenants)
        if tenant is None:
            tenant_error = "choose the tenant this integration belongs to"
        else:
            integration = save_integration(
                spec=spec, tenant=tenant, provider=provider, form=form, posted=request.POST, instance=None,
                actor=_actor(request),
                save=lambda data: integration_create(tenant=tenant, spec=spec, data=data, actor=_actor(request)))
            if integration is not None:
                messages.success(request, f"Saved “{integration.display_name}” as a draft. Next: "
                                          + ("Connect, then " if oauth_provider_for(integration) else "")
                                          + "Validate and Activate.")
                return HttpResponseRedirect(_detail_url(integration))
    else:
        form = build_form(spec, provider)
    return _render(request, "form.html", f"Add {spec.providers[provider].display_name} ({spec.label or family})", {
        "form": form, "spec": spec, "family": family, "provider_name": spec.providers[provider].display_name,
        "tenants": tenants if len(tenants) > 1 else [], "tenant_error": tenant_error,
        "chosen_tenant": request.POST.get("tenant", ""), "integration": None,
    })


def _chosen_tenant(request, tenants: list[Tenant]) -> Tenant | None:
    if len(tenants) == 1:
        return tenants[0]
    chosen = request.POST.get("tenant", "")
    return next((t for t in tenants if str(t.pk) == chosen), None)


def edit_view(request, pk):
    integration = _integration(request, pk, write=True)
    if integration.status == Status.DECOMMISSIONED:
        messages.error(request, "A decommissioned integration cannot be changed.")
        return HttpResponseRedirect(_detail_url(integration))
    spec = _spec(integration.family)
    if request.method == "POST":
        form = build_form(spec, integration.provider, instance=integration, posted=request.POST)
        saved = save_integration(
            spec=spec, tenant=integration.tenant, provider=integration.provider, form=form, posted=request.POST,
            instance=integration, actor=_actor(request),
            save=lambda data: integration_update(integration=integration, data=data, actor=_actor(request)))
        if saved is not None:
            messages.success(request, f"Saved “{saved.display_name}”.")
            return HttpResponseRedirect(_detail_url(saved))
    else:
        form = build_form(spec, integration.provider, instance=integration)
    return _render(request, "form.html", f"Change {integration.display_name}", {
        "form": form, "spec": spec, "family": integration.family, "provider_name": _provider_name(integration),
        "tenants": [], "integration": integration,
    })


def detail_view(request, pk):
    integration = _integration(request, pk)
    can_write = admin_tenants(request.user, write=True).filter(pk=integration.tenant_id).exists()
    summary = usage_summary(tenant=integration.tenant, integration=integration, days=30)
    settings_data = output_serializer_for(type(integration))(integration).data
    return _render(request, "detail.html", integration.display_name, {
        "integration": integration,
        "family_label": dict(Family.choices).get(integration.family, integration.family),
        "provider_name": _provider_name(integration),
        "can_write": can_write and integration.status != Status.DECOMMISSIONED,
        "actions": allowed_actions(Status(integration.status)) if can_write else [],
        "oauth": oauth_provider_for(integration),
        "settings": [(name.replace("_", " "), _display(value)) for name, value in settings_data.items()
                     if name not in _SUMMARY_HIDDEN],
        "validations": ValidationRun.objects.filter(tenant=integration.tenant, integration_id=integration.pk)[:5],
        "transitions": LifecycleTransition.objects.filter(tenant=integration.tenant,
                                                          integration_id=integration.pk)[:10],
        "usage": summary,
        "usage_chart": usage_chart_svg(summary),
    })


def _display(value) -> str:
    """A setting as a person reads it: mappings as `key → value`, lists comma-separated."""
    if value is None or value == "" or value == {} or value == []:
        return "–"
    if value is True or value is False:
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{key} → {_display(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_display(item) for item in value)
    return str(value)


@require_POST
def connect_view(request, pk):
    integration = _integration(request, pk, write=True)
    try:
        started = oauth_start(integration=integration, redirect_uri=None, return_to=_detail_url(integration),
                              actor=_actor(request))
    except ApplicationError as exc:
        messages.error(request, f"Cannot connect: {exc.detail}")
        return HttpResponseRedirect(_detail_url(integration))
    return HttpResponseRedirect(started.authorization_url)


@require_POST
def validate_view(request, pk):
    integration = _integration(request, pk, write=True)
    try:
        run = integration_validate(integration=integration, actor=_actor(request))
    except ApplicationError as exc:
        messages.error(request, f"Cannot validate: {exc.detail}")
    else:
        if run.passed:
            messages.success(request, f"Validation passed: {run.message}")
        else:
            messages.error(request, f"Validation failed: {run.message}")
    return HttpResponseRedirect(_detail_url(integration))


@require_POST
def action_view(request, pk, action: str):
    if action not in {a.value for a in USER_ACTIONS}:
        raise Http404("unknown action")
    integration = _integration(request, pk, write=True)
    try:
        integration_transition(integration=integration, action=action, actor=_actor(request),
                               reason=request.POST.get("reason", "")[:1000])
    except ApplicationError as exc:
        messages.error(request, f"Cannot {action}: {exc.detail}")
    else:
        messages.success(request, f"“{integration.display_name}” is {ACTION_DONE[action]}.")
    return redirect(_detail_url(integration))
