"""Event types' JSON Schemas: checked when saved, the first problem told with its JSON pointer
and the rule that failed, types without a schema never looked at."""

from __future__ import annotations

import pytest

from hookhub.core.event_schemas import (
    check_events,
    check_examples,
    check_schema,
    compiled,
    pointer,
    problem,
    type_name,
)
from hookhub.errors import ValidationError

SCHEMA = {
    "type": "object",
    "properties": {"a/b": {"type": "array", "items": {"type": "integer"}}},
}


def test_pointers_escape_slash_and_tilde() -> None:
    assert pointer([]) == ""
    assert pointer(["a/b", 2, "c~d"]) == "/a~1b/2/c~0d"


def test_the_first_problem_names_where_and_which_rule() -> None:
    validator = compiled(SCHEMA)
    assert problem(validator, {"a/b": [1, 2]}) is None
    where, message = problem(validator, {"a/b": [1, "x"]}) or ("", "")
    assert where == "/a~1b/1"
    assert message.startswith("/a~1b/1: 'x' is not of type 'integer'")
    assert "(schema rule 'type' at #/properties/a~1b/items/type)" in message


def test_events_are_checked_by_their_type_name() -> None:
    event = {"object_type": "dcim.device", "event": "job.completed", "data": {"a/b": ["x"]}}
    assert type_name(event) == "dcim.device.job.completed"
    check_events({}, [event])  # an empty catalog checks nothing
    check_events({"other.type": compiled(SCHEMA)}, [event])
    with pytest.raises(ValidationError) as one:
        check_events({"dcim.device.job.completed": compiled(SCHEMA)}, [event])
    assert one.value.field == "data"
    with pytest.raises(ValidationError) as batch:
        check_events(
            {"dcim.device.job.completed": compiled(SCHEMA)}, [{**event, "data": {}}, event]
        )
    assert batch.value.field == "1.data" and batch.value.message.startswith("event 1 1.data:")


def test_schemas_and_examples_are_checked_when_saved() -> None:
    check_schema(SCHEMA)
    for bad in ({"type": 5}, {"pattern": "("}, [1]):
        with pytest.raises(ValidationError) as refused:
            check_schema(bad)
        assert refused.value.field == "schema"
    with pytest.raises(ValidationError) as refused:
        check_examples(compiled(SCHEMA), [{"a/b": []}, {"a/b": [0.5]}])
    assert refused.value.field == "examples.1"
