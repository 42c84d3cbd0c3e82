"""Check requests against a provider's published OpenAPI description (tests/sandboxes/specs/).

Two ways through, chosen per operation:

* Plain operations (JSON bodies, simple parameters) go through openapi-core's own request
  parameter and body validators.
* Operations that use `deepObject` parameters or `application/x-www-form-urlencoded` bodies
  (Stripe) cannot: openapi-core 0.23 raises `DeserializeError('deepObject', ...)` on them (see
  specs/SOURCES.md, "Caveats"). For those the query string and form body are decoded with
  bracket notation (`metadata[k]=v`, `expand[]=x`, `items[0][price]=p`) into a dict, strings are
  coerced to the types the schema asks for, and the result is checked with
  openapi-schema-validator against the schema in the spec, `$ref`s resolved in place.

Security requirements are deliberately not checked here: each sandbox answers bad credentials
itself, in its provider's own 401 shape, exactly as the provider would.
"""
from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest
from openapi_core.validation.request.exceptions import (
    MissingParameterError,
    MissingRequestBodyError,
    ParameterValidationError,
)
from openapi_core.validation.request.validators import (
    V30RequestBodyValidator,
    V30RequestParametersValidator,
    V31RequestBodyValidator,
    V31RequestParametersValidator,
)
from openapi_schema_validator import OAS30Validator, OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

SPECS_DIR = Path(__file__).resolve().parent / "specs"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
_SPEC_URI = "urn:sandbox-spec"
# The "anything goes" schema, one shared object because validators are cached by schema identity.
_ANY_SCHEMA: Mapping[str, Any] = {}


def _none_if_nullable(check):
    def checked(validator, value, instance, schema):
        if instance is None and schema.get("nullable"):
            return
        yield from check(validator, value, instance, schema)
    return checked


# OAS 3.0 writes "may be null" as `nullable: true` beside `anyOf`/`enum` (Stripe does it on most
# optional fields: `{"anyOf": [{"$ref": ...}], "nullable": true}`); openapi-schema-validator only
# honours it beside `type`, so None would fail the branches. Let `nullable` cover them too.
_OAS30NullableValidator = extend(
    OAS30Validator,
    {
        keyword: _none_if_nullable(OAS30Validator.VALIDATORS[keyword])
        for keyword in ("anyOf", "oneOf", "allOf", "enum")
    },
)


@dataclass(frozen=True)
class SpecViolation:
    """One way a request departs from the provider's description.

    `kind` is one of: unknown_operation, unsupported_media_type, missing_parameter,
    unknown_parameter, invalid_type, invalid_value. `param` uses the provider's own bracket
    notation for nested fields (`items[0][price]`), empty when the request as a whole is wrong.
    """

    kind: str
    message: str
    param: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"

    @classmethod
    def unknown(cls, path: list) -> SpecViolation:
        name = bracket_name(path)
        return cls("unknown_parameter", f"Received unknown parameter: {name}", name)

    @classmethod
    def missing(cls, path: list) -> SpecViolation:
        name = bracket_name(path)
        return cls("missing_parameter", f"Missing required param: {name}.", name)


def decode_bracket_form(encoded: bytes | str) -> dict[str, Any]:
    """Decode `a[b][0][c]=v&tags[]=x` into nested dicts and lists, keeping values as strings.

    Numeric segments stay dict keys ("0") because only a schema can say whether `x[0]` is the
    first item of an array or a metadata key named "0"; see `SpecValidator._coerce`.
    """
    if isinstance(encoded, bytes):
        encoded = encoded.decode("utf-8", errors="replace")
    decoded: dict[str, Any] = {}
    for name, value in parse_qsl(encoded, keep_blank_values=True):
        head, _, rest = name.partition("[")
        segments = [head] + (re.findall(r"\[([^\]]*)\]", "[" + rest) if rest else [])
        _assign(decoded, segments, value)
    return decoded


def _assign(container: Any, segments: list[str], value: str) -> None:
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if isinstance(container, list):  # `key[]` appends
            if last:
                container.append(value)
                return
            container.append({})
            container = container[-1]
            continue
        if last:
            container[segment] = value
            return
        default: Any = [] if segments[index + 1] == "" else {}
        child = container.setdefault(segment, default)
        if not isinstance(child, (dict, list)):
            # `a=1&a[b]=2`: the later nested form wins
            child = container[segment] = default
        container = child


def bracket_name(path: Any) -> str:
    """["items", 0, "price"] -> "items[0][price]"."""
    parts = [str(part) for part in path]
    return parts[0] + "".join(f"[{part}]" for part in parts[1:]) if parts else ""


class SpecValidator:
    """Validates requests against one OpenAPI document. Build it with `spec_validator()`,
    which caches: the Stripe description alone is 900 KB and takes most of a second to load."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        reject_unknown_query_params: bool = False,
        reject_undeclared_fields: bool = False,
    ):
        self.spec = spec
        self.reject_unknown_query_params = reject_unknown_query_params
        self.reject_undeclared_fields = reject_undeclared_fields
        self.is_oas31 = str(spec.get("openapi", "3.0")).startswith("3.1")
        self._openapi = OpenAPI.from_dict(dict(spec))
        self._path_finder = APICallPathFinder(self._openapi.spec)
        validator_classes = (
            (V31RequestParametersValidator, V31RequestBodyValidator)
            if self.is_oas31
            else (V30RequestParametersValidator, V30RequestBodyValidator)
        )
        self._core_validators = [cls(self._openapi.spec) for cls in validator_classes]
        self._schema_validator_class = OAS31Validator if self.is_oas31 else _OAS30NullableValidator
        dialect = DRAFT202012 if self.is_oas31 else DRAFT4
        self._registry = Registry().with_resource(
            _SPEC_URI, Resource.from_contents(spec, default_specification=dialect)
        )
        self._schema_validators: dict[int, Any] = {}
        server_url = (spec.get("servers") or [{"url": "https://provider.invalid/"}])[0]["url"]
        server = urlsplit(server_url)
        # openapi-core matches the full URL against the spec's server, so a request is presented
        # on the provider's own host; its path must then carry the server's base path (/v1.0).
        self.host_url = f"{server.scheme}://{server.netloc}"
        self.base_path = server.path.rstrip("/")

    def validate(
        self,
        *,
        method: str,
        path: str,
        query_string: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> list[SpecViolation]:
        """Every violation of the description by this request; an empty list means valid."""
        headers = {name.lower(): value for name, value in (headers or {}).items()}
        try:
            found = self._path_finder.find(method.lower(), self.host_url + path)
        except PathError as error:
            message = f"{method.upper()} {path} is not in the description: {error}"
            return [SpecViolation("unknown_operation", message)]
        operation = found.operation.read_value()
        path_item = found.path.read_value()
        if self._needs_bracket_decoding(operation, path_item):
            violations = self._validate_bracket_encoded(
                operation, path_item, found.path_result.variables, query_string, headers, body
            )
        else:
            violations = self._validate_with_openapi_core(method, path, query_string, headers, body)
        # One missing property can surface once per `required` error of its parent; say it once.
        return list(dict.fromkeys(violations))

    def object_violations(self, component: str, value: Any) -> list[SpecViolation]:
        """Check an object the sandbox sends (a response or webhook payload) against
        `#/components/schemas/<component>`, so sandboxes stay shaped like the provider."""
        schema = self.spec["components"]["schemas"][component]
        return self._schema_violations(value, schema, prefix=[])

    # openapi-core route ---------------------------------------------------------------------

    def _validate_with_openapi_core(
        self, method, path, query_string, headers, body
    ) -> list[SpecViolation]:
        request = MockRequest(
            self.host_url,
            method,
            path,
            args=_multi_dict_args(query_string),
            headers=headers,
            data=body,
            content_type=headers.get("content-type", "").split(";")[0].strip(),
        )
        violations: list[SpecViolation] = []
        for validator in self._core_validators:
            for error in validator.iter_errors(request):
                violations.extend(_violations_from_core_error(error))
        return violations

    # bracket-encoded route ------------------------------------------------------------------

    def _needs_bracket_decoding(self, operation: Mapping, path_item: Mapping) -> bool:
        for parameter in self._parameters(operation, path_item):
            if parameter.get("style") == "deepObject":
                return True
        return FORM_MEDIA_TYPE in (operation.get("requestBody") or {}).get("content", {})

    def _parameters(self, operation: Mapping, path_item: Mapping) -> list[Mapping]:
        by_key = {}
        for parameter in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
            parameter = self._resolve(parameter)
            by_key[(parameter["in"], parameter["name"])] = parameter
        return list(by_key.values())

    def _validate_bracket_encoded(
        self, operation, path_item, path_variables, query_string, headers, body
    ) -> list[SpecViolation]:
        violations: list[SpecViolation] = []
        query = decode_bracket_form(query_string)
        sources = {"path": path_variables, "query": query, "header": headers}
        declared_query = set()
        for parameter in self._parameters(operation, path_item):
            location, name = parameter["in"], parameter["name"]
            if location == "query":
                declared_query.add(name)
            lookup = name.lower() if location == "header" else name
            source = sources.get(location, {})
            if lookup not in source:
                if parameter.get("required"):
                    violations.append(SpecViolation.missing([name]))
                continue
            schema = parameter.get("schema", _ANY_SCHEMA)
            value = self._coerce(source[lookup], schema)
            violations.extend(self._schema_violations(value, schema, prefix=[name]))
        if self.reject_unknown_query_params:
            undeclared = sorted(set(query) - declared_query)
            violations.extend(SpecViolation.unknown([name]) for name in undeclared)
        violations.extend(self._form_body_violations(operation, headers, body))
        return violations

    def _form_body_violations(self, operation, headers, body: bytes) -> list[SpecViolation]:
        request_body = self._resolve(operation.get("requestBody") or {})
        content = request_body.get("content", {})
        if not body:
            if request_body.get("required"):
                return [SpecViolation("missing_parameter", "The request body is required.")]
            return []
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in content:
            message = f"Content-Type {media_type or '(none)'} is not one of {sorted(content)}"
            return [SpecViolation("unsupported_media_type", message)]
        schema = content[media_type].get("schema", _ANY_SCHEMA)
        if media_type == FORM_MEDIA_TYPE:
            params = self._coerce(decode_bracket_form(body), schema)
        else:
            try:
                params = json.loads(body)
            except ValueError as error:
                return [SpecViolation("invalid_value", f"The body is not valid JSON: {error}")]
        violations = self._schema_violations(params, schema, prefix=[])
        if self.reject_undeclared_fields:
            violations.extend(self._undeclared_fields(params, schema, []))
        return violations

    def _undeclared_fields(self, value: Any, schema: Any, path: list) -> list[SpecViolation]:
        """Fields inside nested objects that the schema does not declare.

        Some providers (Stripe) mark only the top level `additionalProperties: false` in their
        description, yet their API refuses unknown nested fields too ("Received unknown
        parameter: shipping[bogus]"), so an object schema with `properties` and no
        `additionalProperties` is treated as closed.
        """
        schema = self._resolve(schema)
        if not isinstance(schema, Mapping):
            return []
        for combinator in ("anyOf", "oneOf"):
            for option in schema.get(combinator, []):
                if self._schema_validator(self._resolve(option)).is_valid(value):
                    return self._undeclared_fields(value, option, path)
        if isinstance(value, list):
            items = schema.get("items", _ANY_SCHEMA)
            return [
                violation
                for index, item in enumerate(value)
                for violation in self._undeclared_fields(item, items, [*path, index])
            ]
        if not isinstance(value, dict):
            return []
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        violations = []
        for key, item in value.items():
            if key in properties:
                violations.extend(self._undeclared_fields(item, properties[key], [*path, key]))
            elif isinstance(extra, Mapping):
                violations.extend(self._undeclared_fields(item, extra, [*path, key]))
            elif extra is None and properties and path:
                violations.append(SpecViolation.unknown([*path, key]))
        return violations

    # schemas ----------------------------------------------------------------------------------

    def _resolve(self, schema: Any) -> Any:
        while isinstance(schema, Mapping) and "$ref" in schema:
            pointer = schema["$ref"].removeprefix("#/").split("/")
            schema = self.spec
            for part in pointer:
                schema = schema[part.replace("~1", "/").replace("~0", "~")]
        return schema

    def _schema_validator(self, schema: Mapping) -> Any:
        # Keyed by identity: every schema passed here is a node of the cached spec and lives as
        # long as it does. The resolver's base is the whole document, so the node's own
        # `#/components/...` refs resolve against the spec, not against the node.
        validator = self._schema_validators.get(id(schema))
        if validator is None:
            resolver = self._registry.resolver(base_uri=_SPEC_URI)
            validator = self._schema_validator_class(
                schema, registry=self._registry, _resolver=resolver
            )
            self._schema_validators[id(schema)] = validator
        return validator

    def _schema_violations(
        self, value: Any, schema: Mapping, *, prefix: list
    ) -> list[SpecViolation]:
        violations = []
        for error in self._schema_validator(schema).iter_errors(value):
            violations.extend(_violations_from_schema_error(error, prefix))
        return violations

    def _coerce(self, value: Any, schema: Any) -> Any:
        """Form values are all strings; give them the types the schema asks for."""
        schema = self._resolve(schema)
        if not isinstance(schema, Mapping):
            return value
        for combinator in ("anyOf", "oneOf"):
            if combinator in schema:
                for option in schema[combinator]:
                    candidate = self._coerce(value, option)
                    if self._schema_validator(self._resolve(option)).is_valid(candidate):
                        return candidate
                return value
        for option in schema.get("allOf", []):
            value = self._coerce(value, option)
        kind = schema.get("type")
        if isinstance(value, str):
            return _coerce_scalar(value, kind)
        if isinstance(value, dict):
            indexed = value and all(key.isdigit() for key in value)
            if (kind == "array" or "items" in schema) and indexed:
                items = schema.get("items", _ANY_SCHEMA)
                return [self._coerce(value[key], items) for key in sorted(value, key=int)]
            properties = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            extra = extra if isinstance(extra, Mapping) else _ANY_SCHEMA
            return {key: self._coerce(item, properties.get(key, extra)) for key, item in value.items()}
        if isinstance(value, list):
            return [self._coerce(item, schema.get("items", _ANY_SCHEMA)) for item in value]
        return value


def _coerce_scalar(value: str, kind: str | None) -> Any:
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value) if "." in value else int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _violations_from_schema_error(error: ValidationError, prefix: list) -> list[SpecViolation]:
    if error.validator in ("anyOf", "oneOf") and error.context:
        error = best_match(error.context) or error
    path = [*prefix, *error.absolute_path]
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = set(error.schema.get("properties", {}))
        undeclared = sorted(set(error.instance) - known)
        return [SpecViolation.unknown([*path, name]) for name in undeclared]
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [name for name in error.validator_value if name not in error.instance]
        return [SpecViolation.missing([*path, name]) for name in missing]
    kind = "invalid_type" if error.validator == "type" else "invalid_value"
    name = bracket_name(path)
    return [SpecViolation(kind, f"Invalid {name or 'body'}: {error.message}", name)]


def _violations_from_core_error(error: Exception) -> list[SpecViolation]:
    if isinstance(error, PathError):
        return [SpecViolation("unknown_operation", str(error))]
    if isinstance(error, MissingParameterError):
        return [SpecViolation("missing_parameter", str(error), getattr(error, "name", ""))]
    if isinstance(error, MissingRequestBodyError):
        return [SpecViolation("missing_parameter", "The request body is required.")]
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None)
    prefix = [error.name] if isinstance(error, ParameterValidationError) else []
    if schema_errors:
        return [
            violation
            for schema_error in schema_errors
            for violation in _violations_from_schema_error(schema_error, prefix)
        ]
    if type(cause).__name__ == "MediaTypeNotFound":
        return [SpecViolation("unsupported_media_type", str(cause))]
    message = f"{error}: {cause}" if cause else str(error)
    return [SpecViolation("invalid_value", message, prefix[0] if prefix else "")]


def _multi_dict_args(query_string: str) -> Any:
    from werkzeug.datastructures import MultiDict

    return MultiDict(parse_qsl(query_string, keep_blank_values=True))


_validators: dict[str, SpecValidator] = {}
_validators_lock = threading.Lock()


def spec_validator(
    spec_file: str,
    *,
    extra_paths: Mapping[str, Any] | None = None,
    reject_unknown_query_params: bool = False,
    reject_undeclared_fields: bool = False,
) -> SpecValidator:
    """The (cached) validator for `specs/<spec_file>`.

    `extra_paths` adds operations the vendored description lacks; use it only for operations the
    provider documents but the trimmed file dropped, and say so where it is defined.
    """
    options = {
        "reject_unknown_query_params": reject_unknown_query_params,
        "reject_undeclared_fields": reject_undeclared_fields,
    }
    key = json.dumps([spec_file, extra_paths, options], sort_keys=True)
    with _validators_lock:
        if key not in _validators:
            spec = json.loads((SPECS_DIR / spec_file).read_text(encoding="utf-8"))
            if extra_paths:
                spec["paths"] = dict(spec["paths"])
                for path, operations in extra_paths.items():
                    merged = {**spec["paths"].get(path, {}), **copy.deepcopy(dict(operations))}
                    spec["paths"][path] = merged
            _validators[key] = SpecValidator(spec, **options)
        return _validators[key]
