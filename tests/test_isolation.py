"""Tenant isolation, walked over everything: every /api/v1/ route and every admin page.

Nothing here names a route or a model. Tenant A gets a row of every tenant-owned model
(built generically with model_bakery), then tenant B's credentials are pointed at every
URL the resolver knows and every admin the site registers, and must never see, reach or
change one of A's rows. A new route or admin is covered the moment it is registered.

Hooks, for the rare model or route the generic machinery cannot handle:
- ISOLATION_FACTORIES["app_label.ModelName"] = builder(tenant, rows) -> list of rows,
  where `rows` maps each model built so far to its rows for the same tenant;
- ISOLATION_KWARG_VALUES["kwarg"] = [values] for a non-UUID URL kwarg whose converter or
  regex does not spell its allowed values out as alternatives.
"""
from __future__ import annotations

import random
import re
import secrets
import string
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import product

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, models, transaction
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.converters import UUIDConverter
from django.utils.regex_helper import normalize
from model_bakery import baker

from integrations.admin_scoping import tenant_owned_models
from integrations.models import Tenant

ISOLATION_FACTORIES: dict[str, Callable[[Tenant, dict], Iterable[models.Model]]] = {}
ISOLATION_KWARG_VALUES: dict[str, list[str]] = {}

WRITE_METHODS = ("post", "put", "patch", "delete")
_BUILD_ATTEMPTS = 5  # random values may trip a unique or check constraint; a retry draws new ones


# --- tenant rows ------------------------------------------------------------------------------

def _foreign_keys(model) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields
            if f.is_relation and (f.many_to_one or f.one_to_one) and not f.remote_field.parent_link]


def isolated_models() -> list[type[models.Model]]:
    """Tenant-owned models, then those that belong to a tenant only through another row
    (an attempt -> its message -> the tenant): both kinds must stay invisible."""
    owned = tenant_owned_models()
    reachable = set(owned) | {Tenant}
    grew = True
    while grew:
        grew = False
        for model in apps.get_models():
            if model not in reachable and any(fk.related_model in reachable for fk in _foreign_keys(model)):
                reachable.add(model)
                grew = True
    return owned + [m for m in apps.get_models() if m in reachable and m not in owned and m is not Tenant]


def _creation_order(isolated: list[type[models.Model]]) -> list[type[models.Model]]:
    """Referenced models first, so every row can point at its own tenant's rows."""
    pending, ordered = list(isolated), []
    while pending:
        ready = [m for m in pending
                 if not any(fk.related_model in pending and fk.related_model is not m
                            for fk in _foreign_keys(m))]
        ready = ready or pending[:1]  # a cycle: the nullable side is left empty below
        for model in ready:
            pending.remove(model)
            ordered.append(model)
    return ordered


def _links(model, tenant: Tenant, rows: dict, isolated: set) -> dict:
    links = {}
    for fk in _foreign_keys(model):
        related = fk.related_model
        if related is Tenant:
            links[fk.name] = tenant
        elif rows.get(related):
            links[fk.name] = rows[related][0]
        elif related in isolated:
            # Not built yet (a cycle or a self-reference): never let baker invent a third tenant.
            links.update({fk.name: None} if fk.null else {f"{fk.name}__tenant": tenant})
    return links


def _short_texts(model) -> dict[str, str]:
    """Plain text fields get 12 random letters: baker would fill each to its max_length,
    which makes building dozens of rows per test needlessly slow."""
    return {f.name: "".join(random.choices(string.ascii_lowercase, k=min(12, f.max_length or 12)))
            for f in model._meta.concrete_fields
            if type(f) in (models.CharField, models.TextField) and not f.choices and not f.primary_key}


def _build_generically(model, tenant: Tenant, rows: dict, isolated: set) -> list[models.Model]:
    error = None
    for _ in range(_BUILD_ATTEMPTS):
        try:
            with transaction.atomic():
                values = _short_texts(model) | _links(model, tenant, rows, isolated)
                return [baker.make(model, _fill_optional=True, **values)]
        except (IntegrityError, DataError, ValidationError, ValueError) as exc:
            error = exc
    raise AssertionError(f"cannot build {model._meta.label} generically ({error!r}); "
                         f"register a builder in ISOLATION_FACTORIES")


def build_tenant_rows(tenant: Tenant) -> dict[type[models.Model], list[models.Model]]:
    random.seed(f"isolation:{tenant.slug}")  # baker draws from `random`: same rows every run
    isolated = isolated_models()
    rows: dict[type[models.Model], list[models.Model]] = {}
    for model in _creation_order(isolated):
        builder = ISOLATION_FACTORIES.get(model._meta.label)
        if builder:
            rows[model] = list(builder(tenant, rows))
        else:
            rows[model] = _build_generically(model, tenant, rows, set(isolated))
    return rows


def tenant_snapshot(tenant: Tenant, rows: dict) -> dict[str, list[dict]]:
    """Every row of the tenant, as stored: owned tables by their FK, the others by key."""
    owned = tenant_owned_models()
    state = {"tenant": list(Tenant.objects.filter(pk=tenant.pk).values())}
    for model in isolated_models():
        keys = [row.pk for row in rows.get(model, [])]
        scope = {"tenant": tenant} if model in owned else {"pk__in": keys}
        state[model._meta.label] = list(model._base_manager.filter(**scope).order_by("pk").values())
    return state


def _unguessable_keys(rows: dict, tenant: Tenant) -> list[str]:
    keys = {str(row.pk) for model_rows in rows.values() for row in model_rows} | {str(tenant.pk)}
    return sorted(k for k in keys if len(k) >= 16)


@dataclass
class World:
    tenant_a: Tenant
    tenant_b: Tenant
    rows_a: dict
    rows_b: dict
    snapshot_a: dict = field(default_factory=dict)

    @property
    def ids_a(self) -> list[str]:
        """Every key of A's rows and A itself. Only unguessable keys count: a short integer
        key would be found by accident in any body, and would not fit a UUID slot."""
        return _unguessable_keys(self.rows_a, self.tenant_a)

    @property
    def ids_b(self) -> list[str]:
        return _unguessable_keys(self.rows_b, self.tenant_b)

    def ids_b_for_slot(self, slot: str) -> list[str]:
        """B's keys that plausibly fit a URL slot: `integration_id` takes the keys of models
        named like "integration"; a slot that names no model takes all of them."""
        stem = re.sub(r"_?(id|pk|uuid)$", "", slot).replace("_", "")
        named = {m: rows for m, rows in self.rows_b.items() if stem and stem in m._meta.model_name}
        return _unguessable_keys(named, self.tenant_b) if named else self.ids_b

    def assert_a_unchanged(self) -> None:
        assert tenant_snapshot(self.tenant_a, self.rows_a) == self.snapshot_a

    def leaked_ids(self, body: bytes) -> list[str]:
        text = body.decode(errors="replace").lower()
        return [pk for pk in self.ids_a if pk.lower() in text]


def _tables_in_deletion_order() -> list[type[models.Model]]:
    """Children before parents (PROTECT would refuse otherwise), then the tenants, then the
    tables baker filled for them outside any tenant (their users, say)."""
    built = _creation_order(isolated_models())
    outside = {fk.related_model for model in built for fk in _foreign_keys(model)} - set(built) - {Tenant}
    return [*reversed(built), Tenant, *sorted(outside, key=lambda m: m._meta.label)]


@pytest.fixture(scope="module")
def _committed_world(django_db_setup, django_db_blocker):
    """Built once for the module and committed: every test runs in its own transaction on
    top of it and rolls its changes back, so the snapshot stays true from test to test.
    Afterwards every row the module added is deleted, so later modules start clean."""
    from integrations.services.tenancy import tenant_create

    with django_db_blocker.unblock():
        tables = _tables_in_deletion_order()
        existing = {model: set(model._base_manager.values_list("pk", flat=True)) for model in tables}
        with transaction.atomic():
            tenant_a = tenant_create(slug="isolation-a", name="Tenant A")
            tenant_b = tenant_create(slug="isolation-b", name="Tenant B")
            built = World(tenant_a, tenant_b, build_tenant_rows(tenant_a), build_tenant_rows(tenant_b))
            built.snapshot_a = tenant_snapshot(tenant_a, built.rows_a)
        try:
            yield built
        finally:
            with transaction.atomic():
                for model in tables:
                    model._base_manager.exclude(pk__in=existing[model]).delete()


@pytest.fixture
def world(_committed_world, db) -> World:
    return _committed_world


# --- the route walker -------------------------------------------------------------------------

def _group_regex(regex: str, name: str) -> str:
    """The body of the named group `(?P<name>...)` in a regex, by balancing parentheses."""
    start = regex.index(f"(?P<{name}>") + len(f"(?P<{name}>")
    depth, index = 1, start
    while depth:
        char = regex[index]
        if char == "\\":
            index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        index += 1
    return regex[start:index - 1]


def _literal_alternatives(regex: str) -> list[str]:
    """`a|b-c|d` -> ["a", "b-c", "d"]; a regex with any wildcard yields nothing."""
    body = regex[3:-1] if regex.startswith("(?:") and regex.endswith(")") else regex
    values = []
    for alternative in body.split("|"):
        literal = re.sub(r"\\(.)", r"\1", alternative)
        if re.search(r"(?<!\\)[.*+?\[\](){}^$]", alternative) or not re.fullmatch(regex, literal):
            return []
        values.append(literal)
    return values


def _is_uuid_slot(name: str, converter, group: str) -> bool:
    if isinstance(converter, UUIDConverter):
        return True
    looks_like_a_key = name == "pk" or name.endswith(("_id", "_pk", "uuid"))
    return looks_like_a_key and re.fullmatch(group, str(uuid.uuid4())) is not None


@dataclass(frozen=True)
class ApiRoute:
    route: str
    regex: str
    callback: Callable
    converters: dict

    def kwargs(self) -> list[str]:
        return list(normalize(self.regex)[0][1])

    def uuid_slots(self) -> list[str]:
        return [k for k in self.kwargs()
                if _is_uuid_slot(k, self.converters.get(k), _group_regex(self.regex, k))]

    def value_choices(self) -> dict[str, list[str]]:
        """Allowed values of every non-UUID kwarg; an empty list means we cannot know them."""
        choices = {}
        for name in self.kwargs():
            if name in self.uuid_slots():
                continue
            converter = self.converters.get(name)
            known = getattr(converter, "choices", None) or ISOLATION_KWARG_VALUES.get(name)
            choices[name] = list(known or _literal_alternatives(_group_regex(self.regex, name)))
        return choices

    def methods(self) -> list[str]:
        if getattr(self.callback, "actions", None):  # a DRF viewset bound by a router
            return sorted(self.callback.actions)
        view_class = getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None)
        if view_class is None:
            return ["get"]
        return [m for m in ("get", *WRITE_METHODS) if hasattr(view_class, m)]

    def url(self, values: dict[str, str]) -> str:
        template, _ = normalize(self.regex)[0]
        path = "/" + template % {k: (self.converters[k].to_url(v) if k in self.converters else v)
                                 for k, v in values.items()}
        try:
            reached = resolve(path).func
        except Resolver404:
            reached = None
        assert reached is self.callback, f"the walker built {path}, which does not reach {self.route}"
        return path


def _is_documentation(callback) -> bool:
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None) or callback
    return view_class.__module__.startswith("drf_spectacular")


def api_routes(resolver=None, regex: str = "", route: str = "",
               converters: dict | None = None) -> list[ApiRoute]:
    found = []
    for entry in (resolver or get_resolver()).url_patterns:
        part = entry.pattern.regex.pattern.removeprefix("^")
        entry_converters = (converters or {}) | getattr(entry.pattern, "converters", {})
        if isinstance(entry, URLResolver):
            sub_route = route + str(entry.pattern).removeprefix("^")
            found += api_routes(entry, regex + part, sub_route, entry_converters)
        elif isinstance(entry, URLPattern):
            full_route = route + str(entry.pattern).removeprefix("^")
            url_template = normalize(regex + part)[0][0]  # re_path routes spell their prefix in regex
            if url_template.startswith("api/v1/") and not _is_documentation(entry.callback):
                found.append(ApiRoute(full_route, regex + part, entry.callback, entry_converters))
    return found


ROUTES = api_routes()


def _value_combinations(route: ApiRoute) -> list[dict[str, str]]:
    choices = route.value_choices()
    names = list(choices)
    return [dict(zip(names, combo)) for combo in product(*(choices[n] for n in names))]


def _uuid_combinations(route: ApiRoute, world: World) -> list[dict[str, str]]:
    """A's key in every slot; with several slots, also A's key in one slot and each of B's
    keys in the others (B's own parent, A's child: the classic nested-route leak)."""
    slots = route.uuid_slots()
    combos = [{slot: pk for slot in slots} for pk in world.ids_a]
    if len(slots) > 1:
        for slot in slots:
            others = [s for s in slots if s != slot]
            for pk_a in world.ids_a:
                for b_keys in product(*(world.ids_b_for_slot(s) for s in others)):
                    combos.append({slot: pk_a} | dict(zip(others, b_keys)))
    return combos


def _route_param(route: ApiRoute):
    unknown = [name for name, values in route.value_choices().items() if not values]
    if not unknown:
        return pytest.param(route, id=route.route)
    # Shown by -ra in every run's summary, so an unwalked route never goes unnoticed.
    reason = (f"isolation walker cannot walk {route.route}: "
              f"no known values for {unknown} (ISOLATION_KWARG_VALUES)")
    return pytest.param(route, id=route.route, marks=pytest.mark.skip(reason=reason))


def test_walker_sees_the_known_routes_and_builds_every_model(world):
    walked = {route.route for route in ROUTES}

    known = {"api/v1/tenant/", "api/v1/keys/", "api/v1/keys/<uuid:pk>/", "api/v1/keys/<uuid:pk>/revoke/"}
    assert known <= walked
    assert not any(r.startswith(("api/v1/schema", "api/v1/docs", "api/v1/redoc")) for r in walked)
    assert next(r for r in ROUTES if r.route == "api/v1/keys/<uuid:pk>/revoke/").uuid_slots() == ["pk"]
    assert all(len(world.rows_a[model]) >= 1 for model in isolated_models())
    assert set(tenant_owned_models()) <= set(isolated_models())
    uuid_keyed = [row for rows in world.rows_a.values() for row in rows if isinstance(row.pk, uuid.UUID)]
    assert uuid_keyed and {str(row.pk) for row in uuid_keyed} | {str(world.tenant_a.pk)} == set(world.ids_a)


def test_walker_urls_reach_the_view_with_own_ids(world, api_for):
    """Control: the URLs the walker builds are real, so its 404s below mean something."""
    own_key = world.rows_b[next(m for m in world.rows_b if m._meta.label == "integrations.ApiKey")][0]
    detail = next(r for r in ROUTES if r.route == "api/v1/keys/<uuid:pk>/")

    response = api_for(world.tenant_b).get(detail.url({"pk": str(own_key.pk)}))

    assert response.status_code == 200
    assert response.json()["id"] == str(own_key.pk)


@pytest.mark.parametrize("route", [_route_param(route) for route in ROUTES])
def test_tenant_b_never_sees_or_reaches_tenant_a(route, world, api_for):
    client = api_for(world.tenant_b)
    slots = route.uuid_slots()

    for values in _value_combinations(route):
        if not slots:
            url = route.url(values)
            for query in ("", f"?tenant={world.tenant_a.pk}", f"?tenant_id={world.tenant_a.pk}",
                          f"?tenant={world.tenant_a.slug}"):
                response = client.get(url + query)
                assert response.status_code < 500, (url + query, response.content)
                if response.status_code == 200:
                    assert world.leaked_ids(response.content) == [], url + query
            continue
        for ids in _uuid_combinations(route, world):
            url = route.url(values | ids)
            for method in route.methods():
                if method == "get":
                    response = client.get(url)
                else:  # an empty body: the lookup must fail before any validation speaks
                    response = getattr(client, method)(url, {}, format="json")
                assert response.status_code == 404, (method.upper(), url, response.content)
                assert response["Content-Type"] == "application/problem+json"
    world.assert_a_unchanged()


# --- the admin walker -------------------------------------------------------------------------

ADMINS = [pytest.param(model, model_admin, id=model._meta.label)
          for model, model_admin in admin.site._registry.items()]
TENANT_ADMINS = [param for param in ADMINS if param.values[0] in (Tenant, *isolated_models())]


def _admin_url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def _rows_in(model, candidate_keys: list[str]) -> list[str]:
    """The candidate keys this admin's table holds (a parent table holds its children's rows)."""
    keys = []
    for pk in candidate_keys:
        try:
            keys.append(model._meta.pk.to_python(pk))
        except ValidationError:
            continue
    return [str(pk) for pk in model._base_manager.filter(pk__in=keys).values_list("pk", flat=True)]


@pytest.fixture
def tenant_b_admin(world, client):
    from integrations.services.tenancy import tenant_user_create

    user = tenant_user_create(tenant=world.tenant_b, username="tenant-b-admin",
                              password=secrets.token_urlsafe(16), role="admin")
    client.force_login(user)
    client.user = user
    return client


@pytest.mark.parametrize("model, model_admin", ADMINS)
def test_tenant_b_admin_never_sees_or_reaches_tenant_a(model, model_admin, world, tenant_b_admin, rf):
    changelist = tenant_b_admin.get(_admin_url(model, "changelist"))
    assert changelist.status_code in (200, 302, 403)
    if changelist.status_code == 200:
        assert world.leaked_ids(changelist.content) == []
        searched = tenant_b_admin.get(_admin_url(model, "changelist") + f"?q={world.tenant_a.slug}")
        assert world.leaked_ids(searched.content) == []
    if model_admin.has_add_permission(_request_as(rf, tenant_b_admin)):
        add_page = tenant_b_admin.get(_admin_url(model, "add"))
        assert add_page.status_code == 200
        assert world.leaked_ids(add_page.content) == []  # no FK dropdown offers A's rows
    for own_pk in _rows_in(model, world.ids_b)[:1]:
        own_page = tenant_b_admin.get(_admin_url(model, "change", own_pk))
        assert own_page.status_code in (200, 403) and world.leaked_ids(own_page.content) == []

    foreign = _rows_in(model, world.ids_a)
    for pk in foreign:
        for page in ("change", "delete", "history"):
            response = tenant_b_admin.get(_admin_url(model, page, pk))
            assert response.status_code in (302, 403, 404), (page, pk, response.status_code)
            if response.status_code == 302:
                assert response["Location"] == reverse("admin:index")
        tenant_b_admin.post(_admin_url(model, "delete", pk), {"post": "yes"})
    for action in model_admin.get_actions(_request_as(rf, tenant_b_admin)):
        tenant_b_admin.post(_admin_url(model, "changelist"),
                            {"action": action, "_selected_action": foreign, "index": 0, "post": "yes"})
    world.assert_a_unchanged()


def _request_as(rf, logged_in_client):
    request = rf.get("/admin/")
    request.user = logged_in_client.user
    return request


@pytest.mark.parametrize("model, model_admin", TENANT_ADMINS)
def test_superuser_sees_tenant_a_in_every_tenant_admin(model, model_admin, world, admin_client):
    """Control: the same checks find A's rows when the viewer may see them."""
    foreign = _rows_in(model, world.ids_a)

    changelist = admin_client.get(_admin_url(model, "changelist"))
    change = admin_client.get(_admin_url(model, "change", foreign[0]))

    assert foreign, f"{model._meta.label} holds none of tenant A's rows"
    assert changelist.status_code == 200 and world.leaked_ids(changelist.content) != []
    assert change.status_code == 200 and foreign[0] in world.leaked_ids(change.content)
