"""An endpoint's subscribed event types as the portal keeps them: one rule per object type,
and read back from whatever rules the webhook has (made in the portal or elsewhere)."""

from __future__ import annotations

from typing import Any

import pytest

from hookhub.errors import ValidationError
from hookhub.services.portal import rules_for, split_type, subscribed


def _rule(object_types: list[str], event_types: list[str]) -> dict[str, Any]:
    return {"object_types": object_types, "event_types": event_types}


def test_types_become_one_rule_per_object_type_and_read_back_the_same() -> None:
    types = ["invoice.paid", "dcim.device.created", "invoice.voided", "invoice.paid"]
    made = rules_for("wh_1", types)
    assert [(r.name, r.object_types, r.event_types) for r in made] == [
        ("wh_1 invoice", ["invoice"], ["paid", "voided"]),
        ("wh_1 dcim.device", ["dcim.device"], ["created"]),
    ]
    assert subscribed([r.model_dump() for r in made]) == sorted(set(types))
    [every] = rules_for("wh_1", [])
    assert (every.name, every.object_types, every.event_types) == ("wh_1 all", [], [])
    assert subscribed([every.model_dump()]) == []


def test_rules_made_elsewhere_read_back_as_types() -> None:
    assert subscribed([_rule([], ["invoice.paid"]), _rule(["job"], [])]) == [
        "invoice.paid",
        "job.*",
    ]
    assert subscribed([_rule([], ["created"])]) == ["*.created"]
    assert subscribed([_rule(["x"], ["y"]), _rule([], [])]) == []  # one rule takes every type


@pytest.mark.parametrize("name", ["paid", ".paid", "invoice.", "", " "])
def test_a_type_name_needs_an_object_type_and_an_event(name: str) -> None:
    with pytest.raises(ValidationError) as refused:
        split_type(name)
    assert refused.value.field == "event_types"
