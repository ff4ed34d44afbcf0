"""JSON Schemas of event types (Draft 2020-12): checked when saved, compiled once, and the
first problem of a value told as users can act on it (where, and which rule failed).

An event's type name is `object_type + "." + event` (`dcim.device.created`); its schema
describes the event's `data`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator
from referencing.exceptions import Unresolvable

from hookhub.errors import ValidationError

MESSAGE_MAX = 300  # characters of jsonschema's own message kept (it quotes the whole value)
# Values a schema is tried on when saved, so a `$ref` that cannot be resolved (hookhub fetches
# no remote schema) or that loops is refused then, not met by the first event.
TRIALS: tuple[Any, ...] = (None, {}, [], "", 0)


def type_name(event: Mapping[str, Any]) -> str:
    """An event's type name in the catalog: `object_type + "." + event`."""
    return f"{event['object_type']}.{event['event']}"


def pointer(parts: Iterable[str | int]) -> str:
    """The JSON pointer (RFC 6901) of a path: `/items/0/id`; the whole document is ``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def compiled(schema: Mapping[str, Any]) -> Validator:
    """A validator for `schema` (a schema already checked by `check_schema`)."""
    return Draft202012Validator(schema)


def check_schema(schema: Any) -> None:
    """ValidationError (field `schema`) unless `schema` is a valid Draft 2020-12 schema."""
    if not isinstance(schema, dict | bool):
        raise ValidationError("schema: must be a JSON Schema (an object)", field="schema")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = pointer(exc.path) or "/"
        raise ValidationError(
            f"schema: not a valid JSON Schema (Draft 2020-12) at {where}: {_short(exc.message)}",
            field="schema",
        ) from None


def problem(validator: Validator, value: Any) -> tuple[str, str] | None:
    """None when `value` is valid; else the JSON pointer of the failing part of `value` and a
    message naming it and the schema rule that failed (keyword and schema location).
    ValidationError (field `schema`) when the schema cannot be applied (a `$ref` to nowhere, to
    another document, or looping)."""
    try:
        found = best_match(validator.iter_errors(value))
    except Unresolvable as exc:
        raise ValidationError(
            f"schema: cannot be applied: $ref {_short(str(exc.ref))!r} cannot be resolved"
            " (only references inside the schema are)",
            field="schema",
        ) from None
    except RecursionError:
        raise ValidationError("schema: cannot be applied: its $ref loops", field="schema") from None
    if found is None:
        return None
    where = pointer(found.absolute_path)
    rule = pointer(found.absolute_schema_path)
    message = (
        f"{where or '/'}: {_short(found.message)} (schema rule {found.validator!r} at #{rule})"
    )
    return where, message


def check_examples(validator: Validator | None, examples: Sequence[Any]) -> None:
    """ValidationError (field `examples.N`) for the first example `validator` refuses, or
    (field `schema`) if the schema cannot be applied."""
    if validator is None:
        return
    for trial in TRIALS:
        problem(validator, trial)
    for index, example in enumerate(examples):
        found = problem(validator, example)
        if found is not None:
            field = f"examples.{index}"
            raise ValidationError(f"{field}: does not match the schema at {found[1]}", field=field)


def check_events(validators: Mapping[str, Validator], events: Sequence[Mapping[str, Any]]) -> None:
    """ValidationError for the first event whose `data` its type's schema refuses; `field` is
    `data` (`N.data` in a batch of several), the message names the JSON pointer and the rule."""
    if not validators:  # no schema in the catalog: nothing to check
        return
    for index, event in enumerate(events):
        validator = validators.get(type_name(event))
        if validator is None:
            continue
        try:
            found = problem(validator, event.get("data"))
        except ValidationError as exc:  # the type's schema, not the event, is at fault
            raise ValidationError(
                f"the schema of event type {type_name(event)!r}"
                f" {exc.message.removeprefix('schema: ')}",
                field="data" if len(events) == 1 else f"{index}.data",
            ) from None
        if found is not None:
            field = "data" if len(events) == 1 else f"{index}.data"
            which = "" if len(events) == 1 else f"event {index} "
            raise ValidationError(
                f"{which}{field}: does not match the schema of event type"
                f" {type_name(event)!r} at {found[1]}",
                field=field,
            )


def _short(text: str) -> str:
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"
