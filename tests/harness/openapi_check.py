"""Request validation against Xero's published OpenAPI document (`xero_openapi/xero_accounting.yaml`).

Source: XeroAPI/Xero-OpenAPI, `xero_accounting.yaml` (MIT, see `xero_openapi/LICENSE` and
`ORIGIN.md`). The document is permissive (no `additionalProperties: false`, read-only fields
allowed), so the checks here are stricter than the document on purpose: a property the schema does
not name, or one it marks `readOnly`, fails, which is how a field Xero does not have fails a test.
Dates marked `x-is-msdate` must be sent as `YYYY-MM-DD` (Xero's `/Date(...)/` is response-only).

openapi-core is not on the local package index, so this is jsonschema (Draft 7) over the document's
own components, plus a small parameter checker for the query and header parameters it declares.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

SPEC_PATH = Path(__file__).resolve().parent / "xero_openapi" / "xero_accounting.yaml"
MSDATE_PATTERN = r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$"


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader, chosen above


def _strict(schema: Any) -> Any:
    """A copy where objects refuse unknown and read-only properties and msdates need YYYY-MM-DD."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    props = out.get("properties")
    if isinstance(props, dict):
        for name, prop in list(props.items()):
            if isinstance(prop, dict) and prop.get("readOnly"):
                del props[name]  # Xero sets it; sending it is "unexpected", like an unknown field
            elif isinstance(prop, dict) and prop.get("x-is-msdate"):
                prop["pattern"] = MSDATE_PATTERN
        out.setdefault("additionalProperties", False)
    out.pop("nullable", None)
    return out


@lru_cache(maxsize=1)
def _components() -> dict[str, Any]:
    return {"components": {"schemas": _strict(copy.deepcopy(spec()["components"]["schemas"]))}}


@lru_cache(maxsize=64)
def _validator(ref: str) -> Draft7Validator:
    return Draft7Validator({"$ref": ref, **_components()})


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    params: tuple[dict[str, Any], ...]
    body_ref: str | None


def _resolve(item: dict[str, Any]) -> dict[str, Any]:
    ref = item.get("$ref")
    if not ref:
        return item
    name = ref.rsplit("/", 1)[-1]
    return spec()["components"]["parameters"][name]


@lru_cache(maxsize=1)
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in spec()["paths"]:
        pattern = "^" + re.sub(
            r"\{[^}]+\}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
        )
        routes.append((re.compile(pattern + "$"), template))
    # Literal segments win over templated ones ("/Invoices/{InvoiceID}/pdf" before "{...}" catch-alls).
    routes.sort(key=lambda r: r[1].count("{"))
    return routes


def operation(method: str, path: str) -> Operation | None:
    """The documented operation for `METHOD /path` (path below /api.xro/2.0), or None."""
    for pattern, template in _routes():
        if pattern.match(path):
            item = spec()["paths"][template]
            op = item.get(method.lower())
            if op is None:
                continue
            params = [_resolve(p) for p in item.get("parameters", [])] + [
                _resolve(p) for p in op.get("parameters", [])
            ]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            return Operation(template, method.upper(), tuple(params), body.get("$ref") if body else None)
    return None


def _check_value(name: str, value: str, schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if kind == "boolean" and value not in ("true", "false"):
        return f"{name} must be true or false, not {value!r}"
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return f"{name} must be an integer, not {value!r}"
    if schema.get("format") == "date-time":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return f"{name} must be an ISO 8601 date-time, not {value!r}"
    return None


def check_request(
    method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
) -> list[str]:
    """Every way this request departs from the document (empty when it conforms)."""
    op = operation(method, path)
    if op is None:
        return [f"{method} {path} is not an operation in Xero's OpenAPI document"]
    problems = []
    declared_query = {p["name"]: p for p in op.params if p.get("in") == "query"}
    for name, value in query.items():
        param = declared_query.get(name)
        if param is None:
            problems.append(f"query parameter {name!r} is not declared for {method} {op.template}")
            continue
        problem = _check_value(name, value, param.get("schema", {}))
        if problem:
            problems.append(problem)
    lowered = {k.lower(): v for k, v in headers.items()}
    for param in op.params:
        if param.get("in") != "header":
            continue
        name = param["name"].lower()
        if name not in lowered:
            if param.get("required"):
                problems.append(f"header {param['name']} is required")
            continue
        problem = _check_value(param["name"], lowered[name], param.get("schema", {}))
        if problem:
            problems.append(problem)
        if name == "idempotency-key" and len(lowered[name]) > 128:
            problems.append("Idempotency-Key is longer than 128 characters")
    if op.body_ref is not None:
        if body is None:
            problems.append(f"{method} {op.template} needs a JSON body ({op.body_ref})")
        else:
            for error in _validator(op.body_ref).iter_errors(body):
                where = "/".join(str(p) for p in error.absolute_path) or "(body)"
                problems.append(f"{where}: {error.message}")
    elif body is not None and method.upper() in ("POST", "PUT"):
        problems.append(f"{method} {op.template} takes no body")
    return problems
