"""The API's documentation page read from its OpenAPI document: operations by tag, component
schemas with their fields; a type is a list of pieces, a schema's name a link to its entry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

SCHEMA_PREFIX = "#/components/schemas/"
METHODS = ("get", "post", "put", "patch", "delete")
#: Keywords shown beside a type, with how they read.
CONSTRAINTS = (("minLength", "min length {}"), ("maxLength", "max length {}"),
               ("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"),
               ("exclusiveMaximum", "< {}"), ("minItems", "at least {} items"),
               ("maxItems", "at most {} items"), ("pattern", "pattern {}"), ("format", "{}"))


@dataclass(frozen=True)
class Piece:
    """A word of a type: a type's name (a schema's links to its entry, `ref`) or a joining
    word ("or", "array of")."""

    text: str
    ref: str | None = None
    joining: bool = False


@dataclass
class Field:
    name: str
    type: list[Piece]
    required: bool = False
    location: str | None = None  # a parameter's: path, query, header
    description: Markup | None = None
    constraints: list[str] = field(default_factory=list)


@dataclass
class Response:
    status: str
    description: Markup | None
    media_type: str | None
    type: list[Piece]


@dataclass
class Operation:
    method: str
    path: str
    anchor: str
    summary: str | None
    description: Markup | None
    parameters: list[Field]
    body_type: list[Piece] | None
    body_fields: list[Field]
    responses: list[Response]


@dataclass
class Schema:
    name: str
    description: Markup | None
    type: list[Piece]
    fields: list[Field]
    values: list[str]  # an enum's


@dataclass
class Group:
    tag: str
    description: Markup | None
    operations: list[Operation] = field(default_factory=list)


def prose(text: str | None) -> Markup | None:
    """A description with its `code` spans as <code> (everything else escaped)."""
    if not text:
        return None
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))  # noqa: S704


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _variants(schema: dict) -> list[dict]:
    return schema.get("anyOf") or schema.get("oneOf") or [schema]


def type_of(schema: dict) -> list[Piece]:
    """How a JSON schema reads: `string`, `array of Label`, `StartupOut or null`…"""
    variants = _variants(schema)
    if len(variants) > 1:
        pieces: list[Piece] = []
        for number, variant in enumerate(variants):
            pieces += ([Piece(" or ", joining=True)] if number else []) + type_of(variant)
        return pieces
    schema = variants[0]
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(SCHEMA_PREFIX)
        return [Piece(name, name)]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return type_of(schema["allOf"][0])
    if "const" in schema:
        return [Piece(f'"{schema["const"]}"')]
    if "enum" in schema:
        return [Piece("one of " + ", ".join(f'"{value}"' for value in schema["enum"]))]
    kind = schema.get("type")
    if kind == "array":
        return [Piece("array of ", joining=True)] + type_of(schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return [Piece("object of ", joining=True)] + type_of(schema["additionalProperties"])
    if isinstance(kind, list):
        return [Piece(" or ".join(kind))]
    return [Piece(kind or "any")]


def constraints_of(schema: dict) -> list[str]:
    found = []
    for variant in [schema, *_variants(schema)]:
        for keyword, text in CONSTRAINTS:
            if keyword in variant and text.format(_number(variant[keyword])) not in found:
                found.append(text.format(_number(variant[keyword])))
    if schema.get("default") is not None:
        found.append(f"default {_number(schema['default'])}".replace("True", "true")
                     .replace("False", "false"))
    return found


def _fields(schema: dict) -> list[Field]:
    required = set(schema.get("required", []))
    return [Field(name=name, type=type_of(prop), required=name in required,
                  description=prose(prop.get("description")), constraints=constraints_of(prop))
            for name, prop in schema.get("properties", {}).items()]


def _json_schema(content: dict) -> tuple[str | None, dict | None]:
    for media_type, value in content.items():
        return media_type, value.get("schema")
    return None, None


def _operation(method: str, path: str, spec: dict, components: dict) -> Operation:
    parameters = [Field(name=param["name"], location=param["in"],
                        required=param.get("required", False), type=type_of(param["schema"]),
                        description=prose(param.get("description")),
                        constraints=constraints_of(param["schema"]))
                  for param in spec.get("parameters", [])]
    _, body = _json_schema(spec.get("requestBody", {}).get("content", {}))
    body_fields: list[Field] = []
    if body is not None:
        target = components.get(body.get("$ref", "").removeprefix(SCHEMA_PREFIX), body)
        body_fields = _fields(target)
    responses = []
    for status, answer in spec.get("responses", {}).items():
        media_type, schema = _json_schema(answer.get("content", {}))
        responses.append(Response(status=status, description=prose(answer.get("description")),
                                  media_type=media_type,
                                  type=type_of(schema) if schema is not None else []))
    anchor = f"op-{method}-{path}".replace("/", "-").replace("{", "").replace("}", "")
    return Operation(method=method.upper(), path=path, anchor=anchor,
                     summary=spec.get("summary"), description=prose(spec.get("description")),
                     parameters=parameters, body_type=type_of(body) if body else None,
                     body_fields=body_fields, responses=responses)


def read(document: dict) -> tuple[list[Group], list[Schema]]:
    """The document's operations grouped by their first tag (in the tags' order), and its
    component schemas by name."""
    components = document.get("components", {}).get("schemas", {})
    groups = {tag["name"]: Group(tag["name"], prose(tag.get("description")))
              for tag in document.get("tags", [])}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                spec = item[method]
                tag = (spec.get("tags") or ["Other"])[0]
                groups.setdefault(tag, Group(tag, None)).operations.append(
                    _operation(method, path, spec, components))
    schemas = [Schema(name=name, description=prose(schema.get("description")), type=type_of(schema),
                      fields=_fields(schema),
                      values=[str(value) for value in schema.get("enum", [])])
               for name, schema in sorted(components.items())]
    return [group for group in groups.values() if group.operations], schemas
