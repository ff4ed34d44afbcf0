"""Turning the API's validation failures into messages shown beside the form fields."""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
import yaml

from hookhub.errors import HookhubError, validation_message

GENERAL = "_"  # the key of a message that belongs to no single field


def field_errors(exc: pydantic.ValidationError | HookhubError) -> dict[str, str]:
    """{field: message} for each problem; `GENERAL` for those without a field."""
    if isinstance(exc, HookhubError):
        return {exc.field or GENERAL: exc.message}
    found: dict[str, str] = {}
    for error in exc.errors():
        # Union members appear in the location as model names; users never see those.
        parts = [str(p) for p in error["loc"] if not str(p)[:1].isupper() and "[" not in str(p)]
        found.setdefault(parts[0] if parts else GENERAL, _message(parts, validation_message(error)))
    return found


def _message(parts: list[str], message: str) -> str:
    inner = ".".join(parts[1:])
    return f"{inner}: {message}" if inner else message


def parse_json(raw: str, field: str, errors: dict[str, str]) -> Any:
    """JSON text as a value (None when empty); a message in `errors[field]` when it is invalid."""
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        errors[field] = f"not valid JSON: {exc}"
        return None


def parse_document(raw: str, field: str, errors: dict[str, str]) -> Any:
    """YAML or JSON text (JSON is YAML) as a value; a message in `errors[field]` if invalid."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        errors[field] = f"not valid YAML or JSON: {exc}"
        return None


def line_of(raw: str, path: list[str]) -> int | None:
    """The line (from 1) of `path` (`["nodes", "greet", "body"]`: a list item by index or by its
    `id`) in a YAML/JSON document: the deepest part of the path found."""
    try:
        node: Any = yaml.compose(raw)
    except yaml.YAMLError:
        return None
    line = None
    for part in path:
        found = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line, found = key.start_mark.line + 1, value
                    break
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                if part in (str(index), _id_of(item)):
                    line, found = item.start_mark.line + 1, item
                    break
        if found is None:
            break
        node = found
    return line


def _id_of(item: Any) -> str | None:
    if isinstance(item, yaml.MappingNode):
        for key, value in item.value:
            if key.value == "id" and isinstance(value, yaml.ScalarNode):
                return str(value.value)
    return None


def yaml_error_line(exc: yaml.YAMLError) -> int | None:
    """The line (from 1) a YAML syntax error points at, if it says."""
    mark = getattr(exc, "problem_mark", None)
    return int(mark.line) + 1 if mark is not None else None
