"""The wizard's integration form, derived from the family's API input serializer.

The serializer stays the only place where field rules live: this module only decides how
each serializer field is shown (by its type), turns the posted form back into the JSON body
the API would receive, and maps the serializer's errors onto the fields. Every `*_ref`
field also gets a "paste the secret" box; a pasted value is written to the tenant's secret
store and its ref fills the field, and the value is never rendered back.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from rest_framework import serializers

from integrations.errors import ApplicationError
from integrations.families.registry import FamilySpec
from integrations.families.serializers import CapabilitiesField
from integrations.secrets.fields import SecretRefField
from integrations.secrets.services import secret_store

SECRET_SUFFIX = "__secret"
KEY_VALUE_ROWS = 4  # blank rows offered below the filled ones of a mapping field
# Written by the OAuth connect flow, never typed by a person.
CONNECT_MANAGED = ("oauth_refresh_token_ref", "oauth_access_token_ref")


@dataclass
class FormField:
    name: str
    label: str
    kind: str  # text, number, checkbox, select, secret_ref, lines, json, key_value, capabilities
    help_text: str = ""
    required: bool = False
    value: Any = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    rows: list[tuple[str, str]] = field(default_factory=list)  # key_value
    is_set: bool = False  # secret_ref: whether the integration already holds a ref
    errors: list[str] = field(default_factory=list)
    section: str = "settings"


@dataclass
class IntegrationForm:
    fields: list[FormField]
    non_field_errors: list[str] = field(default_factory=list)

    def sections(self) -> list[tuple[str, list[FormField]]]:
        titles = {"general": "General", "credentials": "Credentials", "settings": "Settings"}
        return [(titles[name], [f for f in self.fields if f.section == name]) for name in titles
                if any(f.section == name for f in self.fields)]

    @property
    def has_errors(self) -> bool:
        return bool(self.non_field_errors or any(f.errors for f in self.fields))


class _Invalid(Exception):
    """Raised inside the save transaction so pasted secrets are rolled back with the rest."""


def _kind(name: str, serializer_field: serializers.Field) -> str:
    if isinstance(serializer_field, SecretRefField):
        return "secret_ref"
    if isinstance(serializer_field, CapabilitiesField):
        return "capabilities"
    if isinstance(serializer_field, serializers.BooleanField):
        return "checkbox"
    if isinstance(serializer_field, serializers.ChoiceField):
        return "select"
    if isinstance(serializer_field, serializers.IntegerField):
        return "number"
    if isinstance(serializer_field, serializers.ListField):
        child = serializer_field.child
        return "lines" if isinstance(child, serializers.CharField) and not isinstance(child, SecretRefField) \
            else "json"
    if isinstance(serializer_field, serializers.DictField):
        return "key_value" if isinstance(serializer_field.child, serializers.CharField) else "json"
    if isinstance(serializer_field, serializers.JSONField):
        return "json"
    return "text"


def _editable_fields(spec: FamilySpec, provider: str, instance) -> dict[str, serializers.Field]:
    from integrations.oauth.services import oauth_provider_for

    serializer = spec.input_serializer(instance, context={"spec": spec})
    oauth_connect = oauth_provider_for(instance or spec.model(provider=provider)) is not None
    return {name: f for name, f in serializer.fields.items()
            if not f.read_only and name != "provider" and not (oauth_connect and name in CONNECT_MANAGED)}


def build_form(spec: FamilySpec, provider: str, instance=None, posted=None) -> IntegrationForm:
    """The form for a new (instance None) or existing integration, filled from `posted` when given."""
    form_fields = []
    for name, serializer_field in _editable_fields(spec, provider, instance).items():
        kind = _kind(name, serializer_field)
        model_field = _model_field(spec, name)
        if kind == "json" and model_field is not None and isinstance(model_field.get_default(), dict):
            kind = "key_value"  # a flat mapping such as chart_of_accounts_mapping
        current = getattr(instance, name) if instance is not None else (
            model_field.get_default() if model_field is not None else None)
        help_text = str(serializer_field.help_text or (model_field.help_text if model_field is not None else "") or "")
        form_field = FormField(name=name, label=_label(str(serializer_field.label or name.replace("_", " "))),
                               kind=kind, help_text=help_text, required=serializer_field.required,
                               section=_section(name))
        if kind == "secret_ref":
            form_field.is_set = bool(current)
            form_field.value = ""  # refs are not shown back, like in the API
        elif kind == "select":
            form_field.choices = [(str(k), str(v)) for k, v in serializer_field.choices.items()]
            form_field.value = "" if current is None else str(current)
        elif kind == "capabilities":
            allowed = spec.input_serializer.allowed_capabilities
            form_field.choices = [(c, c.replace("_", " ")) for c in allowed]
            form_field.value = {c for c, on in (current or {}).items() if on}
        elif kind == "key_value":
            if isinstance(current, dict) and all(isinstance(v, str) for v in current.values()):
                form_field.rows = [(str(k), v) for k, v in current.items()]
            else:
                form_field.kind, form_field.value = "json", json.dumps(current, indent=2)
        elif kind == "lines":
            form_field.value = "\n".join(current or [])
        elif kind == "json":
            form_field.value = json.dumps(current, indent=2) if current not in (None, [], {}) else ""
        else:
            form_field.value = current
        if posted is not None:
            _fill_from_post(form_field, posted)
        if form_field.kind == "key_value":
            form_field.rows = form_field.rows + [("", "")] * KEY_VALUE_ROWS
        form_fields.append(form_field)
    return IntegrationForm(fields=form_fields)


_ACRONYMS = {"oauth": "OAuth", "api": "API", "id": "ID", "url": "URL", "rtmp": "RTMP", "vat": "VAT",
             "dvr": "DVR", "ical": "iCal", "tue": "TUE"}


def _label(text: str) -> str:
    words = [_ACRONYMS.get(word.lower(), word) for word in text.split()]
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]]) if words else text


def _model_field(spec: FamilySpec, name: str):
    try:
        return spec.model._meta.get_field(name)
    except Exception:  # a serializer-only field has no model counterpart
        return None


def _section(name: str) -> str:
    if name in ("display_name", "sandbox_mode", "capabilities", "quota_limit", "quota_period"):
        return "general"
    if name.endswith("_ref") or name.startswith("oauth_"):
        return "credentials"
    return "settings"


def _fill_from_post(form_field: FormField, posted) -> None:
    """Show what the user typed again after an error (never a pasted secret)."""
    name = form_field.name
    if form_field.kind == "checkbox":
        form_field.value = name in posted
    elif form_field.kind == "capabilities":
        form_field.value = {c for c, _ in form_field.choices if f"{name}__{c}" in posted}
    elif form_field.kind == "key_value":
        form_field.rows = [row for row in _posted_rows(posted, name) if row != ("", "")]
    elif form_field.kind == "secret_ref":
        # Not even the ref box is echoed: what was typed there may be a secret pasted by mistake.
        form_field.value = ""
    else:
        form_field.value = posted.get(name, "")


def _posted_rows(posted, name: str) -> list[tuple[str, str]]:
    keys, values = posted.getlist(f"{name}__key"), posted.getlist(f"{name}__value")
    return [(k.strip(), v.strip()) for k, v in zip(keys, values)]


def form_body(form: IntegrationForm, posted, *, instance=None) -> tuple[dict, dict[str, str]]:
    """The API body the form stands for, and the pasted secrets by ref field.

    On create, empty inputs are left out so the serializer's defaults and required checks
    apply as they would to an API client; on edit only the fields that changed are sent.
    """
    editing = instance is not None
    body: dict = {}
    pasted: dict[str, str] = {}
    for form_field in form.fields:
        name = form_field.name
        current = getattr(instance, name, None) if editing else None
        if form_field.kind == "checkbox":
            body[name] = name in posted
        elif form_field.kind == "capabilities":
            body[name] = {c: True for c, _ in form_field.choices if f"{name}__{c}" in posted}
        elif form_field.kind == "key_value":
            rows = {k: v for k, v in _posted_rows(posted, name) if k or v}
            if rows or editing:
                body[name] = rows
        elif form_field.kind == "secret_ref":
            # An empty box keeps the stored ref: refs are not shown, so "empty" cannot mean "remove".
            secret = posted.get(name + SECRET_SUFFIX, "")
            if secret:
                pasted[name] = secret
            elif posted.get(name, "").strip():
                body[name] = posted.get(name, "").strip()
        elif form_field.kind == "lines":
            items = [part.strip() for line in posted.get(name, "").splitlines() for part in line.split(",")]
            if any(items) or editing:
                body[name] = [item for item in items if item]
        elif form_field.kind == "json":
            text = posted.get(name, "").strip()
            if text:
                try:
                    body[name] = json.loads(text)
                except ValueError as exc:
                    form_field.errors.append(f"must be valid JSON ({exc.msg} at line {exc.lineno})")
            elif editing:
                body[name] = type(current)() if isinstance(current, (list, dict)) else None
        else:
            text = posted.get(name, "").strip()
            if text:
                body[name] = text
            elif editing:
                body[name] = None if form_field.kind in ("number", "select") else ""
    if editing:
        body = {name: value for name, value in body.items() if _differs(getattr(instance, name, None), value)}
    return body, pasted


def _differs(current, value) -> bool:
    if value in (None, ""):
        return current not in (None, "")
    if isinstance(value, str) and not isinstance(current, str):
        return str(current) != value  # a number or choice as the form posts it
    return current != value


def save_integration(*, spec: FamilySpec, tenant, provider: str, form: IntegrationForm, posted, instance,
                     actor: str, save):
    """Validate the body with the family's serializer and call `save(validated_data)`.

    Pasted secrets are stored first (the serializer checks that local:// refs exist) inside
    the same transaction, so a rejected form leaves no secret behind. Returns the saved
    integration, or None with the errors set on `form`.
    """
    partial = instance is not None
    body, pasted = form_body(form, posted, instance=instance)
    if form.has_errors:
        return None
    if not partial:
        body["provider"] = provider
    try:
        with transaction.atomic():
            for name, value in pasted.items():
                secret_name = f"{provider}-{name.removesuffix('_ref').replace('_', '-')}-{secrets.token_hex(4)}"
                try:
                    body[name] = secret_store(tenant=tenant, name=secret_name, value=value)
                except ApplicationError as exc:
                    _field(form, name).errors.append(exc.detail)
                    raise _Invalid from None
            serializer = spec.input_serializer(instance, data=body, partial=partial,
                                               context={"spec": spec, "tenant": tenant})
            if not serializer.is_valid():
                _apply_errors(form, serializer.errors)
                raise _Invalid
            return save(serializer.validated_data)
    except _Invalid:
        return None
    except ApplicationError as exc:
        form.non_field_errors.append(exc.detail)
        return None


def _field(form: IntegrationForm, name: str) -> FormField:
    return next(f for f in form.fields if f.name == name)


def _apply_errors(form: IntegrationForm, errors: dict) -> None:
    names = {f.name for f in form.fields}
    for name, detail in errors.items():
        messages = _flatten(detail)
        if name in names:
            _field(form, name).errors.extend(messages)
        else:
            form.non_field_errors.extend(messages if name == "non_field_errors" else
                                         [f"{name}: {m}" for m in messages])


def _flatten(detail, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in _flatten(value, f"{prefix}{key}: ")]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item, prefix)]
    return [f"{prefix}{detail}"]
