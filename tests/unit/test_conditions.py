"""Tests for event-rule conditions (hookhub.core.conditions)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookhub.core import conditions as conditions_module
from hookhub.core.conditions import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_STRING_LENGTH,
    OPERATORS,
    ConditionError,
    evaluate,
    validate_conditions,
)

OPS_LIST = "eq, gt, gte, lt, lte, in, contains, regex, changed, unchanged"
NOT_AN_OBJECT = "must be an object (a condition or a condition set)"

DEVICE: dict[str, Any] = {
    "name": "edge-router-1",
    "asn": 65001,
    "weight": 2.5,
    "enabled": True,
    "status": {"value": "active", "label": "Active"},
    "primary_ip4": None,
    "description": "",
    "tags": [{"slug": "core", "name": "Core"}, {"slug": "exempt", "name": "Exempt"}],
    "interfaces": [
        {"name": "eth0", "mtu": 1500, "vlan": {"vid": 10}},
        {"name": "eth1", "mtu": 9000, "vlan": {"vid": 20}},
    ],
    "custom_fields": {"rack_units": 2, "owner": {"team": "netops"}, "aliases": ["er1", "gw"]},
    "nested_lists": [[{"x": 1}]],
    "untagged": [],
}


def ev(cond: Mapping[str, Any] | None, data: Mapping[str, Any] = DEVICE) -> bool:
    """Validate then evaluate, as the platform does (save, then every event)."""
    validate_conditions(cond)
    return evaluate(cond, data)


def c(attr: str, value: Any = None, op: str = "eq", negate: bool = False) -> dict[str, Any]:
    cond: dict[str, Any] = {"attr": attr, "op": op, "negate": negate}
    if op not in ("changed", "unchanged"):
        cond["value"] = value
    return cond


def error_of(conditions: object) -> str:
    with pytest.raises(ConditionError) as info:
        validate_conditions(conditions)
    return str(info.value)


# --------------------------------------------------------------------------- no conditions


@pytest.mark.parametrize("cond", [None, {}])
def test_no_conditions_always_match(cond: Mapping[str, Any] | None) -> None:
    validate_conditions(cond)
    assert evaluate(cond, {}) is True
    assert evaluate(cond, DEVICE, {"prechange": None, "postchange": None}) is True


def test_bare_condition_at_top_level() -> None:
    assert ev({"attr": "name", "value": "edge-router-1"}) is True
    assert ev({"attr": "name", "value": "other"}) is False


def test_defaults_op_eq_and_negate_false() -> None:
    assert ev({"attr": "asn", "value": 65001}) is True
    assert ev({"attr": "asn", "value": 65001, "op": "eq", "negate": False}) is True
    assert ev({"attr": "asn", "value": 65001, "negate": True}) is False


# --------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("attr", "value", "expected"),
    [
        ("name", "edge-router-1", True),
        ("name", "Edge-Router-1", False),  # case-sensitive
        ("asn", 65001, True),
        ("asn", 65001.0, True),  # Python: 1 == 1.0
        ("enabled", True, True),
        ("enabled", 1, True),  # Python: True == 1, as in NetBox
        ("asn", "65001", False),  # no coercion between strings and numbers
        ("primary_ip4", None, True),
        ("description", None, False),
        ("description", "", True),
        ("status.value", "active", True),
        ("custom_fields.aliases", ["er1", "gw"], True),
        ("custom_fields.aliases", ["gw", "er1"], False),  # list equality is ordered
        ("tags.slug", ["core", "exempt"], True),  # the mapped list is compared whole
        ("tags.slug", "core", False),
    ],
)
def test_eq(attr: str, value: Any, expected: bool) -> None:
    assert ev(c(attr, value)) is expected
    assert ev(c(attr, value, negate=True)) is not expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("gt", 65000, True),
        ("gt", 65001, False),
        ("gt", 65001.5, False),
        ("gte", 65001, True),
        ("gte", 65002, False),
        ("lt", 65002, True),
        ("lt", 65001, False),
        ("lte", 65001, True),
        ("lte", 65000.5, False),
    ],
)
def test_numeric_comparisons(op: str, value: int | float, expected: bool) -> None:
    assert ev(c("asn", value, op)) is expected
    assert ev(c("asn", value, op, negate=True)) is not expected


def test_numeric_comparisons_on_floats_and_booleans() -> None:
    assert ev(c("weight", 2, "gt")) is True
    assert ev(c("weight", 2.5, "lte")) is True
    # bool is a number to Python, hence to NetBox: true > 0
    assert ev(c("enabled", 0, "gt")) is True
    assert ev(c("enabled", 1, "gte")) is True


@pytest.mark.parametrize(
    ("attr", "value", "expected"),
    [
        ("name", ["edge-router-1", "edge-router-2"], True),
        ("name", ["core-1"], False),
        ("asn", [65000, 65001], True),
        ("status.value", ["planned", "staging"], False),
        ("primary_ip4", [None], True),
        ("status", [{"value": "active", "label": "Active"}], True),  # whole objects compare too
        # A mapped list is one value: it is not "in" a list of its elements
        ("tags.slug", ["core", "exempt"], False),
        ("tags.slug", [["core", "exempt"]], True),
        ("enabled", [1], True),  # True == 1 again
    ],
)
def test_in(attr: str, value: list[Any], expected: bool) -> None:
    assert ev(c(attr, value, "in")) is expected
    assert ev(c(attr, value, "in", negate=True)) is not expected


@pytest.mark.parametrize(
    ("attr", "value", "expected"),
    [
        # strings: substring
        ("name", "router", True),
        ("name", "ROUTER", False),
        ("name", "", True),
        ("description", "x", False),
        # lists: membership
        ("custom_fields.aliases", "gw", True),
        ("custom_fields.aliases", "g", False),  # no substring matching inside list items
        ("tags.slug", "exempt", True),  # the common use of a mapped list
        ("tags.slug", "edge", False),
        ("interfaces.mtu", 9000, True),
        ("interfaces.vlan.vid", 20, True),
        ("untagged.slug", "exempt", False),  # an empty list maps to an empty list
        ("nested_lists", [{"x": 1}], True),  # a list value is looked for as one element
        # objects: key membership
        ("status", "value", True),
        ("status", "active", False),
        ("custom_fields", "owner", True),
    ],
)
def test_contains(attr: str, value: Any, expected: bool) -> None:
    assert ev(c(attr, value, "contains")) is expected
    assert ev(c(attr, value, "contains", negate=True)) is not expected


@pytest.mark.parametrize(
    ("attr", "pattern", "expected"),
    [
        ("name", r"edge-router-\d+", True),
        ("name", r"^edge", True),
        ("name", r"router", False),  # re.match: anchored at the start, as in NetBox
        ("name", r".*router", True),
        ("name", r"edge", True),  # ... but not at the end
        ("name", r"edge$", False),
        ("name", r"(?i)EDGE", True),
        ("status.value", "act|plan", True),
        ("description", "", True),
    ],
)
def test_regex(attr: str, pattern: str, expected: bool) -> None:
    assert ev(c(attr, pattern, "regex")) is expected
    assert ev(c(attr, pattern, "regex", negate=True)) is not expected


def test_regex_is_compiled_once() -> None:
    cache = conditions_module._compile_regex
    cond = c("name", r"^edge-(?P<n>\d+)-unique-to-this-test$", "regex")
    cache.cache_clear()
    validate_conditions(cond)
    for _ in range(5):
        evaluate(cond, DEVICE)
    assert cache.cache_info().misses == 1
    assert cache.cache_info().hits == 5


def test_evaluate_does_not_revalidate(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object) -> None:
        raise AssertionError("evaluate must not validate valid conditions")

    monkeypatch.setattr(conditions_module, "validate_conditions", explode)
    monkeypatch.setattr(conditions_module, "_Validator", explode)
    cond = {"and": [c("asn", 1, "gt"), c("name", "^edge", "regex"), c("tags.slug", "x")]}
    assert evaluate(cond, DEVICE) is False
    assert evaluate(cond, {}) is False  # unresolved paths are not errors either


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("custom_fields.owner.team", "netops"),
        ("interfaces.name", ["eth0", "eth1"]),
        ("interfaces.vlan.vid", [10, 20]),  # the mapping carries on down the path
        ("tags.name", ["Core", "Exempt"]),
        ("untagged.slug", []),
        ("untagged.slug.deeper", []),
    ],
)
def test_dotted_paths_and_list_mapping(attr: str, value: Any) -> None:
    assert ev(c(attr, value)) is True


def test_list_mapping_over_a_top_level_list_value() -> None:
    data = {"items": [{"a": {"b": 1}}, {"a": {"b": 2}}]}
    assert ev(c("items.a.b", [1, 2]), data) is True
    assert ev(c("items.a.b", 2, "contains"), data) is True


@pytest.mark.parametrize(
    "attr",
    [
        "missing",  # absent key
        "status.missing",  # absent nested key
        "primary_ip4.address",  # null part-way down
        "name.value",  # scalar part-way down (e.g. a REST-style path on a raw value)
        "description.value",  # ... even an empty one
        "asn.value",
        "custom_fields.aliases.x",  # list of scalars
        "nested_lists.x",  # list of lists: NetBox maps one level only
        "tags.missing",  # a list item lacking the key
    ],
)
def test_unresolved_paths_never_match_even_negated(attr: str) -> None:
    for op, value in [("eq", None), ("eq", "x"), ("in", [None]), ("contains", "x")]:
        assert ev(c(attr, value, op)) is False
        assert ev(c(attr, value, op, negate=True)) is False


def test_list_items_must_all_resolve() -> None:
    data = {"tags": [{"slug": "a"}, {"name": "no slug"}]}
    assert ev(c("tags.slug", "a", "contains"), data) is False
    assert ev(c("tags.slug", "a", "contains", negate=True), data) is False
    bad_items: list[Any] = [None, "a", 1, [], {}]
    for bad_item in bad_items:
        holey = {"tags": [{"slug": "a"}, bad_item]}
        assert ev(c("tags.slug", "a", "contains"), holey) is False
        assert ev(c("tags.slug", "b", "contains", negate=True), holey) is False


def test_explicit_null_resolves() -> None:
    # Present-but-null is a value, unlike a missing key.
    assert ev(c("primary_ip4", None, negate=True)) is False
    assert ev(c("primary_ip4", None)) is True
    assert ev(c("missing", None)) is False


def test_data_of_any_shape_is_tolerated() -> None:
    cond = c("a.b", 1)
    for data in ({}, {"a": None}, {"a": 1}, {"a": "s"}, {"a": [1, 2]}, {"a": {"b": 1}}):
        assert evaluate(cond, data) is (data == {"a": {"b": 1}})


# --------------------------------------------------------------------------- type mismatch


@pytest.mark.parametrize(
    ("attr", "value", "op"),
    [
        ("name", 1, "gt"),
        ("name", 1, "gte"),
        ("name", 1, "lt"),
        ("name", 1, "lte"),
        ("primary_ip4", 1, "gt"),
        ("interfaces.mtu", 1000, "gt"),  # a mapped list is not a number
        ("status", 1, "lt"),
        ("asn", "6", "contains"),  # numbers have no members
        ("primary_ip4", "x", "contains"),
        ("enabled", True, "contains"),
        ("name", 1, "contains"),  # Python refuses `1 in "abc"`
        ("status", ["value"], "contains"),  # a list cannot be an object key
        ("asn", "^6", "regex"),
        ("primary_ip4", ".*", "regex"),
        ("tags.slug", "core", "regex"),  # regex does not map over lists
        ("status", "value", "regex"),
    ],
)
def test_type_mismatches_never_match_even_negated(attr: str, value: Any, op: str) -> None:
    assert ev(c(attr, value, op)) is False
    assert ev(c(attr, value, op, negate=True)) is False


# --------------------------------------------------------------------------- condition sets

T = c("asn", 65001)  # true
F = c("asn", 1)  # false
U = c("missing", 1)  # unknown: the path does not resolve


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"and": [T]}, True),
        ({"and": [T, T]}, True),
        ({"and": [T, F]}, False),
        ({"and": [F, T]}, False),
        ({"or": [F]}, False),
        ({"or": [F, T]}, True),
        ({"or": [T, F]}, True),
        ({"or": [F, F]}, False),
        # Empty sets behave like Python's all() and any(), as in NetBox
        ({"and": []}, True),
        ({"or": []}, False),
        ({"and": [{"or": []}]}, False),
        ({"or": [{"and": []}]}, True),
        # Nesting
        ({"and": [T, {"or": [F, T]}]}, True),
        ({"and": [T, {"or": [F, F]}]}, False),
        ({"or": [F, {"and": [T, T]}]}, True),
        ({"or": [F, {"and": [T, F]}]}, False),
        ({"and": [{"and": [{"and": [{"or": [F, {"and": [T]}]}]}]}]}, True),
        # Unknown: decided by the other members where they can, whatever the order
        ({"or": [U, T]}, True),
        ({"or": [T, U]}, True),
        ({"and": [U, F]}, False),
        ({"and": [F, U]}, False),
        ({"or": [U, F]}, False),
        ({"and": [U, T]}, False),
        ({"and": [T, {"or": [U, T]}]}, True),
        ({"or": [{"and": [U, T]}, F]}, False),
        ({"or": [{"and": [U, F]}, {"or": [U, T]}]}, True),
        ({"or": [{**U, "negate": True}]}, False),
    ],
)
def test_condition_sets(cond: dict[str, Any], expected: bool) -> None:
    assert ev(cond) is expected


def test_set_with_tags_and_status_example() -> None:
    cond = {
        "or": [
            {
                "and": [
                    {"attr": "status.value", "value": "active"},
                    {"attr": "primary_ip4", "value": None, "negate": True},
                ]
            },
            {"attr": "tags.slug", "value": "exempt", "op": "contains"},
        ]
    }
    assert ev(cond) is True
    assert ev(cond, {**DEVICE, "tags": []}) is False
    assert ev(cond, {**DEVICE, "tags": [], "primary_ip4": {"address": "192.0.2.1/32"}}) is True


def test_sets_nested_to_the_limit_evaluate() -> None:
    cond: dict[str, Any] = T
    for _ in range(MAX_DEPTH):
        cond = {"and": [cond]}
    assert ev(cond) is True


# --------------------------------------------------------------------------- changed / unchanged

BEFORE = {"status": "planned", "name": "r1", "tags": [{"slug": "a"}], "cf": {"x": 1}}
AFTER = {"status": "active", "name": "r1", "tags": [{"slug": "a"}, {"slug": "b"}], "cf": {"x": 1}}
UPDATE = {"prechange": BEFORE, "postchange": AFTER}


def snap(cond: Mapping[str, Any], snapshots: Mapping[str, Any] | None) -> bool:
    validate_conditions(cond)
    return evaluate(cond, {}, snapshots)


@pytest.mark.parametrize(
    ("attr", "snapshots", "changed"),
    [
        ("status", UPDATE, True),
        ("name", UPDATE, False),
        ("cf.x", UPDATE, False),
        ("tags.slug", UPDATE, True),
        ("tags", UPDATE, True),
        # missing snapshots and attributes read as null
        ("status", {"prechange": None, "postchange": AFTER}, True),  # create
        ("status", {"prechange": BEFORE, "postchange": None}, True),  # delete
        ("status", {"postchange": AFTER}, True),
        ("missing", UPDATE, False),  # null both sides
        ("status.value", UPDATE, False),  # unwalkable both sides: null both sides
        ("status", {"prechange": {}, "postchange": {"status": None}}, False),
        ("status", {"prechange": {"status": None}, "postchange": {"status": "active"}}, True),
        ("status", {"prechange": "junk", "postchange": AFTER}, True),
        ("status", {}, False),
        ("status", None, False),
    ],
)
def test_changed_and_unchanged(
    attr: str, snapshots: Mapping[str, Any] | None, changed: bool
) -> None:
    assert snap(c(attr, op="changed"), snapshots) is changed
    assert snap(c(attr, op="unchanged"), snapshots) is not changed
    assert snap(c(attr, op="changed", negate=True), snapshots) is not changed
    assert snap(c(attr, op="unchanged", negate=True), snapshots) is changed


def test_changed_ignores_data_and_combines_with_it() -> None:
    cond = {"and": [c("status", op="changed"), c("status", "active")]}
    validate_conditions(cond)
    assert evaluate(cond, {"status": "active"}, UPDATE) is True
    assert evaluate(cond, {"status": "planned"}, UPDATE) is False
    assert evaluate(cond, {"status": "active"}, {"prechange": AFTER, "postchange": AFTER}) is False
    # data is never consulted for the snapshot operators
    assert evaluate(c("status", op="changed"), {"status": "x"}, UPDATE) is True


# --------------------------------------------------------------------------- validation


def test_valid_conditions_pass() -> None:
    validate_conditions(
        {
            "and": [
                {"attr": "name", "value": "x"},
                {"attr": "a.b.c", "value": None, "op": "eq", "negate": True},
                {"attr": "n", "value": 1.5, "op": "gt"},
                {"attr": "n", "value": -3, "op": "gte"},
                {"attr": "n", "value": 0, "op": "lt"},
                {"attr": "n", "value": 10**20, "op": "lte"},
                {"attr": "s", "value": ["a", 1, None, True, {"k": [1]}, []], "op": "in"},
                {"attr": "s", "value": [], "op": "in"},
                {"attr": "s", "value": "x", "op": "contains"},
                {"attr": "s", "value": 1, "op": "contains"},
                {"attr": "s", "value": False, "op": "contains"},
                {"attr": "s", "value": ["x"], "op": "contains"},
                {"attr": "s", "value": "^a+$", "op": "regex"},
                {"attr": "s", "op": "changed"},
                {"attr": "s", "op": "unchanged", "negate": True},
                {"or": []},
                {"and": []},
                {"or": [{"and": [{"attr": "x", "value": [1, 2]}]}]},
            ]
        }
    )


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        # shape
        ([], f"conditions: {NOT_AN_OBJECT}, got list"),
        ("status", f"conditions: {NOT_AN_OBJECT}, got string"),
        (1, f"conditions: {NOT_AN_OBJECT}, got number"),
        ({"and": [1]}, f"conditions.and[0]: {NOT_AN_OBJECT}, got number"),
        ({"and": [T, None]}, f"conditions.and[1]: {NOT_AN_OBJECT}, got null"),
        ({"or": [T, [T]]}, f"conditions.or[1]: {NOT_AN_OBJECT}, got list"),
        (
            {"and": [{}]},
            "conditions.and[0]: empty object (expected a condition with 'attr' "
            "or a condition set with 'and' or 'or')",
        ),
        # sets
        (
            {"and": [], "or": []},
            "conditions: a condition set must have exactly one key, 'and' or 'or' "
            "(found 'and', 'or')",
        ),
        (
            {"and": [{"or": [], "attr": "x"}]},
            "conditions.and[0]: a condition set must have exactly one key, 'and' or 'or' "
            "(found 'or', 'attr')",
        ),
        (
            {"and": [T], "negate": True},
            "conditions: a condition set must have exactly one key, 'and' or 'or' "
            "(found 'and', 'negate')",
        ),
        ({"and": T}, "conditions.and: must be a list of conditions, got object"),
        ({"or": None}, "conditions.or: must be a list of conditions, got null"),
        ({"or": [{"and": "x"}]}, "conditions.or[0].and: must be a list of conditions, got string"),
        # keys
        (
            {"attr": "x", "valu": 1},
            "conditions: unknown key 'valu' (a condition's keys are attr, value, op and negate)",
        ),
        (
            {"or": [{"AND": []}]},
            "conditions.or[0]: unknown key 'AND' (a condition's keys are attr, value, op and "
            "negate); logic keys are lower-case: use 'and'",
        ),
        (
            {"Or": []},
            "conditions: unknown key 'Or' (a condition's keys are attr, value, op and "
            "negate); logic keys are lower-case: use 'or'",
        ),
        (
            {"attr": "x", "value": 1, 1: 2},
            "conditions: unknown key 1 (a condition's keys are attr, value, op and negate)",
        ),
        # attr
        ({"value": 1}, "conditions: missing required key 'attr'"),
        ({"and": [T, {"op": "changed"}]}, "conditions.and[1]: missing required key 'attr'"),
        ({"attr": 1, "value": 1}, "conditions.attr: must be a string, got number"),
        ({"attr": None, "value": 1}, "conditions.attr: must be a string, got null"),
        ({"attr": ["a"], "value": 1}, "conditions.attr: must be a string, got list"),
        ({"attr": "", "value": 1}, "conditions.attr: must not be empty"),
        ({"attr": "a..b", "value": 1}, "conditions.attr: empty segment in dotted path 'a..b'"),
        ({"attr": ".a", "value": 1}, "conditions.attr: empty segment in dotted path '.a'"),
        ({"attr": "a.", "value": 1}, "conditions.attr: empty segment in dotted path 'a.'"),
        (
            {"attr": "a" * (MAX_STRING_LENGTH + 1), "value": 1},
            f"conditions.attr: too long ({MAX_STRING_LENGTH + 1} characters, "
            f"limit {MAX_STRING_LENGTH})",
        ),
        # op
        ({"attr": "x", "value": 1, "op": None}, "conditions.op: must be a string, got null"),
        ({"attr": "x", "value": 1, "op": ["eq"]}, "conditions.op: must be a string, got list"),
        (
            {"and": [T, {"attr": "x", "value": 1, "op": "equals"}]},
            f"conditions.and[1].op: unknown operator 'equals' (expected one of {OPS_LIST})",
        ),
        (
            {"attr": "x", "value": 1, "op": "EQ"},
            f"conditions.op: unknown operator 'EQ' (expected one of {OPS_LIST})",
        ),
        (
            {"attr": "x", "value": 1, "op": "neq"},
            f"conditions.op: unknown operator 'neq' (expected one of {OPS_LIST})",
        ),
        # negate
        (
            {"attr": "x", "value": 1, "negate": "yes"},
            "conditions.negate: must be true or false, got string",
        ),
        (
            {"attr": "x", "value": 1, "negate": 1},
            "conditions.negate: must be true or false, got number",
        ),
        (
            {"attr": "x", "value": 1, "negate": None},
            "conditions.negate: must be true or false, got null",
        ),
        # value presence
        ({"attr": "x"}, "conditions: missing required key 'value' (operator 'eq' needs one)"),
        (
            {"or": [{"attr": "x", "op": "regex"}]},
            "conditions.or[0]: missing required key 'value' (operator 'regex' needs one)",
        ),
        (
            {"attr": "x", "op": "changed", "value": "active"},
            "conditions.value: operator 'changed' compares the before and after snapshots "
            "and takes no value",
        ),
        (
            {"attr": "x", "op": "unchanged", "value": None},
            "conditions.value: operator 'unchanged' compares the before and after snapshots "
            "and takes no value",
        ),
        # value type, per operator
        (
            {"attr": "x", "value": {"a": 1}},
            "conditions.value: operator 'eq' needs a string, number, boolean, null or list, "
            "got object",
        ),
        (
            {"attr": "x", "value": (1, 2)},
            "conditions.value: operator 'eq' needs a string, number, boolean, null or list, "
            "got tuple",
        ),
        (
            {"attr": "x", "value": "1", "op": "gt"},
            "conditions.value: operator 'gt' needs a number, got string",
        ),
        (
            {"attr": "x", "value": True, "op": "gte"},
            "conditions.value: operator 'gte' needs a number, got boolean",
        ),
        (
            {"attr": "x", "value": None, "op": "lt"},
            "conditions.value: operator 'lt' needs a number, got null",
        ),
        (
            {"attr": "x", "value": [1], "op": "lte"},
            "conditions.value: operator 'lte' needs a number, got list",
        ),
        (
            {"attr": "x", "value": "active", "op": "in"},
            "conditions.value: operator 'in' needs a list, got string",
        ),
        (
            {"attr": "x", "value": None, "op": "in"},
            "conditions.value: operator 'in' needs a list, got null",
        ),
        (
            {"attr": "x", "value": None, "op": "contains"},
            "conditions.value: operator 'contains' needs a string, number, boolean or list, "
            "got null",
        ),
        (
            {"attr": "x", "value": {}, "op": "contains"},
            "conditions.value: operator 'contains' needs a string, number, boolean or list, "
            "got object",
        ),
        (
            {"attr": "x", "value": 1, "op": "regex"},
            "conditions.value: operator 'regex' needs a string (a regular expression), got number",
        ),
        (
            {"attr": "x", "value": ["a"], "op": "regex"},
            "conditions.value: operator 'regex' needs a string (a regular expression), got list",
        ),
        # regex syntax
        (
            {"attr": "x", "value": "[a", "op": "regex"},
            "conditions.value: invalid regular expression: "
            "unterminated character set at position 0",
        ),
        (
            {"and": [T, {"or": [{"attr": "x", "value": "a(b", "op": "regex"}]}]},
            "conditions.and[1].or[0].value: invalid regular expression: "
            "missing ), unterminated subpattern at position 1",
        ),
        (
            {"attr": "x", "value": "*", "op": "regex"},
            "conditions.value: invalid regular expression: nothing to repeat at position 0",
        ),
        # value contents
        (
            {"attr": "x", "value": float("nan"), "op": "gt"},
            "conditions.value: must be a finite number, got nan",
        ),
        (
            {"attr": "x", "value": float("-inf")},
            "conditions.value: must be a finite number, got -inf",
        ),
        (
            {"attr": "x", "value": [1, float("inf")], "op": "in"},
            "conditions.value[1]: must be a finite number, got inf",
        ),
        (
            {"attr": "x", "value": [{1, 2}], "op": "in"},
            "conditions.value[0]: unsupported value type set (values must be JSON)",
        ),
        (
            {"attr": "x", "value": [{1: "a"}], "op": "in"},
            "conditions.value[0]: object keys must be strings, got 1",
        ),
        (
            {"attr": "x", "value": [{"k": [b"raw"]}], "op": "in"},
            "conditions.value[0].k[0]: unsupported value type bytes (values must be JSON)",
        ),
        (
            {"attr": "x", "value": "a" * (MAX_STRING_LENGTH + 1)},
            f"conditions.value: string too long ({MAX_STRING_LENGTH + 1} characters, "
            f"limit {MAX_STRING_LENGTH})",
        ),
        (
            {"attr": "x", "value": ["ok", "a" * (MAX_STRING_LENGTH + 1)], "op": "in"},
            f"conditions.value[1]: string too long ({MAX_STRING_LENGTH + 1} characters, "
            f"limit {MAX_STRING_LENGTH})",
        ),
        (
            {"attr": "x", "value": "a" * (MAX_STRING_LENGTH + 1), "op": "regex"},
            f"conditions.value: string too long ({MAX_STRING_LENGTH + 1} characters, "
            f"limit {MAX_STRING_LENGTH})",
        ),
    ],
)
def test_validation_errors(conditions: object, message: str) -> None:
    assert error_of(conditions) == message


def test_condition_error_parts() -> None:
    with pytest.raises(ConditionError) as info:
        validate_conditions({"and": [T, {"attr": "x", "value": 1, "op": "equals"}]})
    error = info.value
    assert isinstance(error, ValueError)
    assert error.path == "conditions.and[1].op"
    assert error.message == f"unknown operator 'equals' (expected one of {OPS_LIST})"
    assert str(error) == f"{error.path}: {error.message}"
    assert ConditionError("broken").path == "conditions"
    copied = copy.copy(error)  # copy and pickle share __reduce__
    assert (copied.message, copied.path, str(copied)) == (error.message, error.path, str(error))


def test_first_problem_is_reported() -> None:
    # Keys, then attr, then op, then negate, then value: one message at a time.
    bad = {"attr": "", "op": "nope", "negate": "x", "value": {}, "extra": 1}
    assert error_of(bad).startswith("conditions: unknown key 'extra'")
    del bad["extra"]
    assert error_of(bad) == "conditions.attr: must not be empty"
    bad["attr"] = "a"
    assert error_of(bad).startswith("conditions.op: unknown operator 'nope'")
    bad["op"] = "gt"
    assert error_of(bad) == "conditions.negate: must be true or false, got string"
    bad["negate"] = False
    assert error_of(bad) == "conditions.value: operator 'gt' needs a number, got object"


def test_error_in_later_sibling_is_found() -> None:
    cond = {"or": [T, F, {"and": [T, {"attr": "x", "value": 1, "op": "gt", "negate": 0}]}]}
    assert error_of(cond) == "conditions.or[2].and[1].negate: must be true or false, got number"


def test_operators_constant() -> None:
    assert ", ".join(OPERATORS) == OPS_LIST


# --------------------------------------------------------------------------- limits


def nested_sets(depth: int) -> tuple[dict[str, Any], str]:
    """`depth` nested sets around one condition, and the path of the innermost set."""
    cond: dict[str, Any] = T
    for _ in range(depth):
        cond = {"and": [cond]}
    return cond, "conditions" + ".and[0]" * (depth - 1)


def test_set_depth_limit() -> None:
    ok, _ = nested_sets(MAX_DEPTH)
    validate_conditions(ok)
    too_deep, path = nested_sets(MAX_DEPTH + 1)
    assert error_of(too_deep) == f"{path}: condition sets nested too deeply (limit {MAX_DEPTH})"


def test_hostile_depth_does_not_blow_the_stack() -> None:
    hostile, _ = nested_sets(50_000)
    assert "nested too deeply" in error_of(hostile)
    cyclic: dict[str, Any] = {"or": []}
    cyclic["or"].append(cyclic)
    assert "nested too deeply" in error_of(cyclic)
    cyclic_value: list[Any] = []
    cyclic_value.append(cyclic_value)
    assert "nested too deeply" in error_of({"attr": "x", "value": cyclic_value})


def test_value_depth_limit() -> None:
    value: list[Any] = []
    for _ in range(MAX_DEPTH - 1):
        value = [value]
    validate_conditions({"attr": "x", "value": value, "op": "in"})
    path = "conditions.value" + "[0]" * MAX_DEPTH
    assert error_of({"attr": "x", "value": [value], "op": "in"}) == (
        f"{path}: value nested too deeply (limit {MAX_DEPTH})"
    )


def test_size_limit() -> None:
    changed = c("x", op="changed")  # one node each: the set counts one more
    validate_conditions({"or": [changed] * (MAX_NODES - 1)})
    assert error_of({"or": [changed] * MAX_NODES}) == (
        f"conditions.or[{MAX_NODES - 1}]: conditions too large "
        f"(more than {MAX_NODES} conditions, sets and values)"
    )
    big_list = {"attr": "x", "value": list(range(MAX_NODES)), "op": "in"}
    assert "conditions too large" in error_of(big_list)


# --------------------------------------------------------- malformed input to evaluate


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"attr": "x", "value": 1, "op": "equals"}, "conditions.op: unknown operator 'equals'"),
        ({"attr": "x", "value": "[a", "op": "regex"}, "conditions.value: invalid regular"),
        ({"attr": "x"}, "conditions: missing required key 'value'"),
        ({"and": [{}]}, "conditions.and[0]: empty object"),
        ({"and": [T, "x"]}, "conditions.and[1]: must be an object"),
        ({"or": 5}, "conditions.or: must be a list"),
        ({"attr": None, "value": 1}, "conditions.attr: must be a string"),
        ({"attr": 5, "value": 1}, "conditions.attr: must be a string"),
        ({"AND": [T]}, "conditions: unknown key 'AND'"),
        (nested_sets(MAX_DEPTH + 1)[0], "conditions.and[0]"),
    ],
)
def test_evaluate_reports_malformed_conditions(conditions: Any, message: str) -> None:
    data = {"x": "abc"}
    with pytest.raises(ConditionError) as info:
        evaluate(conditions, data)
    assert str(info.value).startswith(message)


def test_evaluate_does_not_mutate_inputs() -> None:
    cond = {"and": [c("tags.slug", "exempt", "contains"), c("status", op="changed")]}
    data = copy.deepcopy(DEVICE)
    snapshots = copy.deepcopy(UPDATE)
    frozen = (copy.deepcopy(cond), copy.deepcopy(data), copy.deepcopy(snapshots))
    validate_conditions(cond)
    evaluate(cond, data, snapshots)
    assert (cond, data, snapshots) == frozen


# --------------------------------------------------------------------------- properties

KEYS = ["a", "b", "tags", "slug"]
PATHS = ["a", "b", "a.b", "tags.slug", "a.tags.slug", "b.a.b"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-3, 3, allow_nan=False)
    | st.sampled_from(["", "a", "ab", "b", "slug"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4)
numbers = st.integers(-3, 3) | st.floats(-3, 3, allow_nan=False)
VALUES_BY_OP: dict[str, st.SearchStrategy[Any]] = {
    "eq": scalars | st.lists(scalars, max_size=3),
    "gt": numbers,
    "gte": numbers,
    "lt": numbers,
    "lte": numbers,
    "in": st.lists(json_values, max_size=3),
    "contains": st.sampled_from(["", "a", "b", 1, True]) | st.lists(scalars, max_size=2),
    "regex": st.sampled_from(["", "a", "^a+$", "b|s", "(?i)A"]),
}


@st.composite
def single_conditions(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(OPERATORS))
    cond: dict[str, Any] = {"attr": draw(st.sampled_from(PATHS)), "op": op}
    if op in VALUES_BY_OP:
        cond["value"] = draw(VALUES_BY_OP[op])
    if draw(st.booleans()):
        cond["negate"] = draw(st.booleans())
    return cond


condition_trees = st.recursive(
    single_conditions(),
    lambda inner: st.dictionaries(
        st.sampled_from(["and", "or"]), st.lists(inner, max_size=3), min_size=1, max_size=1
    ),
    max_leaves=8,
)
snapshot_pairs = st.none() | st.fixed_dictionaries(
    {}, optional={"prechange": st.none() | json_objects, "postchange": st.none() | json_objects}
)


def reversed_sets(node: Any) -> Any:
    if isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("and", "or"):
        ((logic, items),) = node.items()
        return {logic: [reversed_sets(item) for item in reversed(items)]}
    return node


@settings(max_examples=300, deadline=None, database=None)
@given(condition_trees, json_objects, snapshot_pairs)
def test_valid_conditions_evaluate_to_bool_whatever_the_data(
    cond: dict[str, Any], data: dict[str, Any], snapshots: dict[str, Any] | None
) -> None:
    validate_conditions(cond)
    result = evaluate(cond, data, snapshots)
    assert isinstance(result, bool)
    # Three-valued logic makes the result independent of the order of set members.
    assert evaluate(reversed_sets(cond), data, snapshots) is result


@settings(max_examples=300, deadline=None, database=None)
@given(single_conditions(), json_objects, snapshot_pairs)
def test_negation_never_makes_both_true(
    cond: dict[str, Any], data: dict[str, Any], snapshots: dict[str, Any] | None
) -> None:
    validate_conditions(cond)
    plain = evaluate({**cond, "negate": False}, data, snapshots)
    negated = evaluate({**cond, "negate": True}, data, snapshots)
    assert not (plain and negated)


@settings(max_examples=300, deadline=None, database=None)
@given(
    json_values
    | json_objects
    | st.dictionaries(
        st.sampled_from(["attr", "value", "op", "negate", "and", "or"]),
        json_values | st.sampled_from(OPERATORS),
        max_size=4,
    )
)
def test_arbitrary_json_conditions_only_raise_condition_error(raw: Any) -> None:
    try:
        validate_conditions(raw)
    except ConditionError:
        valid = False
    else:
        valid = True
    if raw is None or isinstance(raw, dict):
        try:
            evaluate(raw, {"a": 1, "b": "ab", "tags": [{"slug": "a"}]})
        except ConditionError:
            assert not valid


def test_explain_tries_every_condition_without_short_cuts() -> None:
    from hookhub.core.conditions import explain

    rule = {
        "or": [
            {"attr": "status.value", "value": "active"},
            {"attr": "site", "value": "fra", "negate": True},
            {"and": [{"attr": "missing.path", "op": "gt", "value": 1}]},
        ]
    }
    data = {"status": {"value": "active"}, "site": "ams"}
    found = explain(rule, data)
    # `or` would stop at the first; every condition is reported, in document order.
    assert [c.path for c in found] == [
        "conditions.or.0",
        "conditions.or.1",
        "conditions.or.2.and.0",
    ]
    assert [c.matched for c in found] == [True, True, None]
    assert [c.actual for c in found] == ["active", "ams", None]
    assert [c.resolved for c in found] == [True, True, False]
    assert found[1].negate and found[2].op == "gt"
    assert explain(None, data) == [] and evaluate(rule, data)
