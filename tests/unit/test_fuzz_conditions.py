"""Fuzzing the condition language (hookhub.core.conditions) with hypothesis: random condition
documents, valid and malformed (unknown operators and keys, wrong types, deep nesting, random
regular expressions), against random event data.

Whatever a rule's author saves, validation accepts it or raises ConditionError (the API's 400),
never another exception; and whatever an event holds, an accepted rule evaluates to a bool
without raising, quickly. Each test is bounded by `max_examples` and a per-example deadline, so
the file runs in seconds; the subjects are short enough that only exponential backtracking (not
a slow but polynomial match) can miss the deadline. A match that backtracks exponentially does
not return for minutes and cannot be interrupted: the file's timeout (thread method) ends the
run instead. What fuzzing found is kept as regression tests at the end.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hookhub.core.conditions import (
    MAX_DEPTH,
    MAX_REGEX_SUBJECT,
    OPERATORS,
    ConditionError,
    evaluate,
    validate_conditions,
)

# A regular expression's match holds the interpreter until it returns: only a thread can stop it.
pytestmark = pytest.mark.timeout(120, method="thread")

FUZZ = settings(
    max_examples=300,
    # Exponential backtracking on the 30-character subjects below takes minutes, the rest
    # milliseconds: 20 s tells them apart even on a 2-core runner loaded 10x (2 s did not).
    deadline=timedelta(seconds=20),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KEYS = ["a", "b", "name", "tags", "slug", "0", ""]

# -- event data ---------------------------------------------------------------------------------

# Strings that make backtracking regular expressions work hard: a run of one character, then one
# that breaks the match at the end.
hostile_strings = st.builds(
    lambda char, n, end: char * n + end,
    st.sampled_from(["a", "ab", " ", "0", "a "]),
    st.integers(0, 40),
    st.sampled_from(["", "!", "b", "\n", "\u00e9"]),
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | hostile_strings
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=8,
)
event_data = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), json_values, max_size=4)
snapshots = st.none() | st.fixed_dictionaries(
    {}, optional={"prechange": json_values, "postchange": json_values}
)

# -- regular expressions --------------------------------------------------------------------------

ATOMS = ["a", "b", " ", ".", "[ab]", "[^a]", r"\d", r"\w", r"\s", "^", "$", r"\b", "(?=a)", "(?!b)"]
QUANTIFIERS = ["*", "+", "?", "{2}", "{1,3}", "{0,}", "*?", "+?", "*+", "++", "{2,}+"]
BROKEN = ["(", ")", "[", "a{2,1}", "*", r"\1", "(?P<x", "(?L)", r"\N{NOPE}", "a{99999999999}"]


def _regex_parts(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return (
        st.tuples(inner, inner).map("".join)
        | st.tuples(inner, inner).map("|".join)
        | st.tuples(st.sampled_from(["(", "(?:", "(?>", "(?P<g>", "(?i:"]), inner).map(
            lambda t: f"{t[0]}{t[1]})"
        )
        | st.tuples(inner, st.sampled_from(QUANTIFIERS)).map("".join)
    )


# The shape of catastrophic backtracking: a repetition of something that itself has a choice.
repeated_choices = st.builds(
    "({}{}|{}){}{}".format,
    st.sampled_from(["a", r"\w", ".", "[ab]"]),
    st.sampled_from(["", "+", "*", "?", "{1,2}"]),
    st.sampled_from(["a", "aa", "a?", "b", r"\s?"]),
    st.sampled_from(["+", "*", "{2,}", "+?", "++"]),
    st.sampled_from(["$", "b", "", r"\Z"]),
)
regex_patterns = (
    st.recursive(st.sampled_from(ATOMS), _regex_parts, max_leaves=6)
    | repeated_choices
    | st.sampled_from(BROKEN)
    | st.text(max_size=10)
    # Nesting deeper than the parser's recursion allows, within the 4096-character limit.
    | st.integers(1, 2000).map(lambda n: "(" * n + "a" + ")" * n)
    | st.integers(1, 1000).map(lambda n: "(?:" * n + ")" * n)
)

# -- conditions ---------------------------------------------------------------------------------

ATTRS = ["a", "b", "name", "tags.slug", "a.b", "a.0", "", "a..b", ".", "a" * 5000]
attrs = st.sampled_from(ATTRS) | st.text(max_size=6) | st.integers() | st.none() | st.lists(scalars)
operators = st.sampled_from(OPERATORS) | st.sampled_from(["EQ", "ne", "", "regexp"]) | json_values
values = json_values | regex_patterns | st.sampled_from(["a" * 4096, "a" * 4097, "(" * 4096])


@st.composite
def conditions(draw: st.DrawFn) -> Any:
    """One condition: mostly well formed, each key sometimes missing, wrong or extra."""
    op = draw(operators)
    node: dict[Any, Any] = {"attr": draw(attrs)}
    if draw(st.integers(0, 9)):
        node["op"] = op
    if op == "regex" and draw(st.booleans()):
        node["value"] = draw(regex_patterns)
    elif draw(st.integers(0, 9)):
        node["value"] = draw(values)
    if draw(st.booleans()):
        node["negate"] = draw(st.booleans() | json_values)
    if not draw(st.integers(0, 19)):
        node[draw(st.sampled_from(["AND", "Or", "attrs", "values", 1]))] = draw(json_values)
    if not draw(st.integers(0, 19)):
        del node["attr"]
    return node


def _sets(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    members = st.lists(inner, max_size=4)
    return (
        st.dictionaries(st.sampled_from(["and", "or"]), members, min_size=1, max_size=1)
        | st.fixed_dictionaries({"and": members, "or": members})
        | st.dictionaries(st.sampled_from(["and", "or"]), json_values, min_size=1, max_size=1)
    )


def _nested(depth: int, logic: str, leaf: Any) -> Any:
    node = leaf
    for _ in range(depth):
        node = {logic: [node]}
    return node


condition_documents = (
    st.recursive(conditions(), _sets, max_leaves=8)
    | json_values
    | st.builds(
        _nested, st.integers(1, 3 * MAX_DEPTH), st.sampled_from(["and", "or"]), conditions()
    )
)


def _validated(document: Any) -> bool:
    """Whether validation accepts `document`; ConditionError is the only refusal allowed."""
    try:
        validate_conditions(document)
    except ConditionError as exc:
        assert exc.message and exc.path.startswith("conditions"), exc
        return False
    return True


@FUZZ
@given(condition_documents, event_data, snapshots)
def test_validation_accepts_or_refuses_and_accepted_conditions_evaluate_to_a_bool(
    document: Any, data: dict[str, Any], prechange_postchange: dict[str, Any] | None
) -> None:
    if not _validated(document):
        return
    result = evaluate(document, data, prechange_postchange)
    assert isinstance(result, bool)


@FUZZ
@given(st.lists(regex_patterns, min_size=1, max_size=3), st.booleans(), hostile_strings)
def test_accepted_regular_expressions_match_hostile_strings_quickly(
    patterns: list[str], negate: bool, subject: str
) -> None:
    document = {
        "or": [{"attr": "s", "op": "regex", "value": p, "negate": negate} for p in patterns]
    }
    if not _validated(document):
        return
    assert isinstance(evaluate(document, {"s": subject}), bool)
    assert isinstance(evaluate(document, {"s": [subject]}), bool)  # not a string: unknown


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["attr", "value", "op", "negate", "and", "or", "x"]),
        json_values | regex_patterns | st.sampled_from(OPERATORS),
        max_size=5,
    ),
    event_data,
)
def test_unvalidated_conditions_evaluate_to_a_bool_or_raise_condition_error(
    document: dict[str, Any], data: dict[str, Any]
) -> None:
    """Stored rules are evaluated without validating again: a malformed one (saved by an older
    version, or written to the database by hand) must fail closed, not crash intake."""
    valid = _validated(document)
    try:
        result = evaluate(document, data)
    except ConditionError:
        assert not valid
    else:
        assert isinstance(result, bool)


# -- found by fuzzing -----------------------------------------------------------------------------


def _refusal(document: Any) -> str:
    with pytest.raises(ConditionError) as raised:
        validate_conditions(document)
    return str(raised.value)


def _regex(pattern: str, negate: bool = False) -> dict[str, Any]:
    return {"attr": "s", "op": "regex", "value": pattern, "negate": negate}


def test_a_repetition_count_too_large_for_the_engine_is_refused() -> None:
    # Was OverflowError from re.compile: a 500 from the API instead of a 400.
    assert _refusal(_regex("a{99999999999}")) == (
        "conditions.value: invalid regular expression: the repetition number is too large"
    )


def test_groups_nested_thousands_deep_are_refused() -> None:
    # Was RecursionError from the regular expression parser.
    deep = "(" * 2000 + "a" + ")" * 2000
    assert _refusal(_regex(deep)) == (
        f"conditions.value: regular expression nests groups too deeply (limit {MAX_DEPTH})"
    )
    assert "too deeply" in _refusal(_regex("(?:" * (MAX_DEPTH + 1) + ")" * (MAX_DEPTH + 1)))
    validate_conditions(_regex("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH))
    validate_conditions(_regex(r"[(]\(" * 100))  # escaped or in a set: not groups


CATASTROPHIC = [
    "(a+)+$",
    "(a*)*b",
    "(a|aa)+$",
    "(a+|a)+$",
    "(a?a)+$",
    r"^(\w+\s?)+$",
    "(?:ab|[ab]b)+c",
    "(.*a){12}",
    "((a+))+$",
    r"(a)(?:\1)+$",
    "(?:(?=a+)a)+$",
]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_repetitions_of_a_choice_are_refused_and_fail_closed_if_stored(pattern: str) -> None:
    # Each takes from seconds to years against "aaaa...!" in Python's backtracking engine.
    assert _refusal(_regex(pattern)).startswith(
        "conditions.value: regular expression refused: a repeated part of the pattern holds "
        "another choice"
    )
    # Saved by an older hookhub, it is evaluated without validation: unknown, at once.
    started = time.monotonic()
    for negate in (False, True):
        assert evaluate(_regex(pattern, negate), {"s": "a" * 40 + "!"}) is False
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("pattern", "subject"),
    [
        ("(?:a+)++$", "aaaa"),  # possessive
        ("(?>a+)+$", "aaaa"),  # atomic
        ("(?>a|aa)+$", "aaaa"),
        ("(?:a|b)+$", "abab"),  # single characters: one set, no choice
        (r"(?:\.[a-z]{2})+$", ".ab.cd"),  # a fixed count is no choice
        (r"^edge-\d+$", "edge-12"),
        (r"^(dc1|dc2)?-[a-z]+\.\w+", "dc1-ab.c"),
        ("^.*foo.*bar", "xfooybar"),
    ],
)
def test_patterns_without_a_repeated_choice_are_accepted(pattern: str, subject: str) -> None:
    validate_conditions(_regex(pattern))
    assert evaluate(_regex(pattern), {"s": subject}) is True
    started = time.monotonic()
    evaluate(_regex(pattern), {"s": "a" * MAX_REGEX_SUBJECT + "!"})
    assert time.monotonic() - started < 1.0


def test_strings_longer_than_the_regex_limit_are_not_matched() -> None:
    cond = _regex("^a")
    assert evaluate(cond, {"s": "a" * MAX_REGEX_SUBJECT}) is True
    # Unknown: neither the condition nor its negation holds.
    assert evaluate(cond, {"s": "a" * (MAX_REGEX_SUBJECT + 1)}) is False
    assert evaluate(_regex("^a", negate=True), {"s": "a" * (MAX_REGEX_SUBJECT + 1)}) is False
    assert evaluate({"or": [cond, {"attr": "t", "value": 1}]}, {"s": "a" * 5000, "t": 1}) is True
