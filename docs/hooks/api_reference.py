"""MkDocs hook: builds reference/api.md from the app's OpenAPI schema on every build.

The page is generated, never committed, so it always matches the code. Building it needs
neither a database nor a running server: `create_app` only reads settings until it starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from hookhub.app import create_app
from hookhub.settings import Settings

PAGE = "reference/api.md"
METHODS = ("get", "post", "put", "patch", "delete")
# A code span: a run of backticks, then anything up to a run of the same length.
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")
# FastAPI's own validation-error schemas: hookhub answers with its error body instead.
HIDDEN_SCHEMAS = frozenset({"HTTPValidationError", "ValidationError"})
CONSTRAINTS = {
    "minLength": "length ≥ {}",
    "maxLength": "length ≤ {}",
    "minimum": "≥ {}",
    "maximum": "≤ {}",
    "exclusiveMinimum": "> {}",
    "exclusiveMaximum": "< {}",
    "minItems": "≥ {} items",
    "maxItems": "≤ {} items",
    # Double backticks: patterns may contain a backtick themselves.
    "pattern": "matches `` {} ``",
}

INTRO = """\
# API reference

hookhub {version}: {summary}

This page is generated from the OpenAPI schema of this version of hookhub, the same schema a
running server shows at `/docs` and `/openapi.json`.

Conventions shared by every endpoint under `/api/v1` (see [webhooks](../webhooks.md)):

- Requests and answers are JSON. Send `Authorization: Bearer <token>`; a missing or invalid
  token gets `401`, a token whose scope is too small gets `403`
  ([API tokens](../webhooks.md#api-tokens-and-scopes)).
- Errors, `422` included, are `{{"error": {{"code": "...", "message": "...", "field": "..."}}}}`
  ([errors](../webhooks.md#errors)).
- Lists are `{{"items": [...], "next": cursor-or-null}}`; pass `next` back as `cursor`
  ([pagination](../webhooks.md#pagination)).
- Ids are strings.

The trigger URLs `/hooks/<key>` and `/api/webhook:trigger/<key>` take no API token and are not
part of this schema: see [triggers](../triggers.md).
"""


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated API reference page to the site."""
    files.append(File.generated(config, PAGE, content=render(openapi_schema())))
    return files


def openapi_schema() -> dict[str, Any]:
    """The OpenAPI schema of the app, built without opening its database."""
    # An in-memory URL: nothing is created on disk, even if something did connect.
    settings = Settings(database_url="sqlite:///:memory:")
    return create_app(settings, workers=False).openapi()


def render(schema: Mapping[str, Any]) -> str:
    """The whole reference page as Markdown."""
    info = schema.get("info", {})
    parts = [INTRO.format(version=info.get("version", ""), summary=info.get("summary", ""))]
    components = schema.get("components", {}).get("schemas", {})
    by_tag: dict[str, list[str]] = {}
    for path, method, operation in operations(schema):
        tag = (operation.get("tags") or ["health and metrics"])[0]
        by_tag.setdefault(tag, []).append(render_operation(path, method, operation, components))
    for tag, sections in by_tag.items():
        parts.append(f"## {tag.capitalize()}\n")
        parts.extend(sections)
    parts.append("## Schemas\n\nThe objects that request bodies refer to.\n")
    for name, component in components.items():
        if name not in HIDDEN_SCHEMAS:
            parts.append(render_schema(name, component))
    return "\n".join(parts)


def operations(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """Every (path, method, operation), in the schema's order."""
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def render_operation(
    path: str, method: str, operation: Mapping[str, Any], components: Mapping[str, Any]
) -> str:
    """One endpoint: summary, parameters, request body and responses."""
    lines = [f"### `{method.upper()} {path}`\n", f"{operation.get('summary', '')}\n"]
    if operation.get("description"):
        lines.append(f"{operation['description']}\n")
    parameters = operation.get("parameters", [])
    if parameters:
        lines.append("**Parameters**\n")
        lines.append("| Name | In | Type | Required | Default | Description |")
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for parameter in parameters:
            spec = parameter.get("schema", {})
            lines.append(
                row(
                    f"`{parameter['name']}`",
                    parameter.get("in", ""),
                    type_of(spec),
                    "yes" if parameter.get("required") else "no",
                    default_of(spec),
                    describe(parameter.get("description") or spec.get("description"), spec),
                )
            )
        lines.append("")
    body = operation.get("requestBody")
    if body:
        lines.extend(render_body(body, components))
    lines.append("**Responses**\n")
    lines.append("| Status | Description |")
    lines.append("| --- | --- |")
    for status, response in operation.get("responses", {}).items():
        lines.append(row(f"`{status}`", response.get("description", "")))
    lines.append("")
    return "\n".join(lines)


def render_body(body: Mapping[str, Any], components: Mapping[str, Any]) -> list[str]:
    """The request body: its content type and type, with the fields of the object it names."""
    required = "required" if body.get("required") else "optional"
    lines = []
    for content_type, media in body.get("content", {}).items():
        spec = media.get("schema", {})
        lines.append(f"**Request body** ({required}, `{content_type}`): {type_of(spec)}\n")
        # `{"$ref"}` alone, or with `null` when the body may be left out.
        refs = [option["$ref"] for option in [spec, *spec.get("anyOf", [])] if "$ref" in option]
        if refs:
            lines.extend(fields_table(components[refs[0].rsplit("/", 1)[-1]]))
        elif spec.get("type") == "object" and spec.get("additionalProperties"):
            # The PATCH endpoints: their body is free-form in the schema, checked by the code.
            lines.append(
                "The fields to change, as in the create request; each replaces the stored value.\n"
            )
    return lines


def render_schema(name: str, component: Mapping[str, Any]) -> str:
    """One component schema as a heading and a table of its fields."""
    lines = [f"### {display_name(name)} {{#{anchor(name)}}}\n"]
    if component.get("description"):
        lines.append(f"{one_line(component['description'])}\n")
    lines.extend(fields_table(component))
    return "\n".join(lines)


def fields_table(component: Mapping[str, Any]) -> list[str]:
    """An object schema's fields as a table; a schema without fields as its type."""
    properties = component.get("properties", {})
    if not properties:
        return [f"{type_of(component)}\n"]
    required = set(component.get("required", []))
    lines = [
        "| Field | Type | Required | Default | Description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for field, spec in properties.items():
        lines.append(
            row(
                f"`{field}`",
                type_of(spec),
                "yes" if field in required else "no",
                default_of(spec),
                describe(spec.get("description"), spec),
            )
        )
    if component.get("additionalProperties") is False:
        lines.append("\nOther fields are refused with `422`.")
    lines.append("")
    return lines


def type_of(spec: Mapping[str, Any]) -> str:
    """A schema's type in words, with links to the component schemas it refers to."""
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{display_name(name)}](#{anchor(name)})"
    if "const" in spec:
        return f"`{json.dumps(spec['const'])}`"
    if "enum" in spec:
        return " or ".join(f"`{json.dumps(value)}`" for value in spec["enum"])
    for union in ("anyOf", "oneOf"):
        if union in spec:
            return " or ".join(type_of(option) for option in spec[union])
    kind = spec.get("type")
    if kind == "array":
        return f"list of {type_of(spec.get('items', {}))}"
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return f"object of {type_of(spec['additionalProperties'])}"
    return f"`{kind}`" if kind else "any JSON value"


def default_of(spec: Mapping[str, Any]) -> str:
    """The default value as JSON, or nothing when there is none."""
    return f"`{json.dumps(number(spec['default']))}`" if "default" in spec else ""


def describe(description: str | None, spec: Mapping[str, Any]) -> str:
    """The description followed by the limits the schema states."""
    limits = [
        text.format(number(option[key]))
        for option in [spec, *spec.get("anyOf", [])]
        for key, text in CONSTRAINTS.items()
        if key in option
    ]
    examples = spec.get("examples")
    if examples:
        limits.append("for example " + ", ".join(f"`{json.dumps(e)}`" for e in examples))
    parts = [one_line(description)] if description else []
    return "; ".join(parts + limits)


def number(value: Any) -> Any:
    """`120.0` as `120`: limits read better without a spurious fraction."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def display_name(name: str) -> str:
    """`hookhub__api__v1__webhooks__BasicAuth` → `webhooks.BasicAuth`; others unchanged."""
    return ".".join(name.split("__")[-2:])


def anchor(name: str) -> str:
    """A stable heading id for a component schema."""
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", display_name(name).lower())


def one_line(text: str) -> str:
    """Text that fits in one table cell."""
    return " ".join(text.split())


def row(*cells: str) -> str:
    """A Markdown table row; pipes outside code spans are escaped (inside, they are literal)."""
    return "| " + " | ".join(escape_pipes(cell) for cell in cells) + " |"


def escape_pipes(cell: str) -> str:
    """The cell with `|` escaped wherever it would end the cell: outside code spans."""
    out, start = [], 0
    for span in CODE_SPAN.finditer(cell):
        out += [cell[start : span.start()].replace("|", "\\|"), span.group()]
        start = span.end()
    return "".join([*out, cell[start:].replace("|", "\\|")])
