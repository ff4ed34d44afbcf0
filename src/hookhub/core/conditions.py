"""Event-rule conditions: NetBox's condition language, plus `changed` and `unchanged`.

A rule's conditions are JSON, checked once by `validate_conditions` when the rule is
saved and then run by `evaluate` against every event:

    {"and": [
        {"attr": "status.value", "value": "active"},
        {"attr": "tags.slug", "op": "contains", "value": "exempt", "negate": true}
    ]}

Semantics follow NetBox's `extras/conditions.py` (4.x), including its quirks, which
docs/conditions.md spells out for users. The main ones:

- An attribute path that does not resolve (a missing key, a null or scalar part-way down,
  a list item lacking the key), or a comparison between mismatched types (`gt` on a
  string, `regex` on a list), makes the condition *unknown*, and `negate` leaves it
  unknown. NetBox raises InvalidCondition there, which abandons the whole rule; hookhub
  instead uses three-valued logic, so `or` is true if any member is true and `and` is
  false if any member is false, whatever their order, and an unknown result at the top
  means the rule does not match. Every rule NetBox fires, hookhub fires too.
- Comparisons are Python's: `1 == 1.0`, `true == 1`, `true > 0`, and `regex` is
  `re.match` (anchored at the start only).
- `{"and": []}` is true and `{"or": []}` is false (Python's all() and any()).

`changed` and `unchanged` follow hookhub's own rule, not NetBox's later operators of the
same names: a missing snapshot or attribute reads as null, so they are never unknown.
"""

from __future__ import annotations

import functools
import importlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_REGEX_SUBJECT",
    "MAX_STRING_LENGTH",
    "OPERATORS",
    "Checked",
    "ConditionError",
    "evaluate",
    "explain",
    "validate_conditions",
]

OPERATORS: Final = (
    *("eq", "gt", "gte", "lt", "lte", "in", "contains", "regex"),  # NetBox's
    *("changed", "unchanged"),  # hookhub's snapshot comparisons
)
# Snapshot operators compare before/after values, so they take no `value`.
SNAPSHOT_OPERATORS: Final = frozenset({"changed", "unchanged"})
CONDITION_KEYS: Final = ("attr", "value", "op", "negate")
LOGIC_KEYS: Final = ("and", "or")

# Limits keep hostile input from exhausting the stack or memory at save time; real rules
# stay far below them.
MAX_DEPTH: Final = 32  # nested condition sets, and nested lists inside a value
MAX_NODES: Final = 10_000  # sets, conditions and value elements, all counted together
MAX_STRING_LENGTH: Final = 4096  # attr paths, string values and regex patterns
# characters: a longer string is not matched against a `regex` (the condition is unknown). Python
# backtracks: a pattern that may try each split of a string, such as `.*.*x`, takes time growing
# with a power of its length (50 ms for two `.*` at this length, here).
MAX_REGEX_SUBJECT: Final = 4096

ROOT: Final = "conditions"

# Which JSON kinds each operator accepts as `value`: NetBox's type table, where bool is a
# kind of its own (so `gt` refuses `true`) and null is accepted by `eq` only.
_VALUE_KINDS: Final[Mapping[str, tuple[frozenset[str], str]]] = {
    "eq": (
        frozenset({"string", "number", "boolean", "null", "list"}),
        "a string, number, boolean, null or list",
    ),
    "gt": (frozenset({"number"}), "a number"),
    "gte": (frozenset({"number"}), "a number"),
    "lt": (frozenset({"number"}), "a number"),
    "lte": (frozenset({"number"}), "a number"),
    "in": (frozenset({"list"}), "a list"),
    "contains": (
        frozenset({"string", "number", "boolean", "list"}),
        "a string, number, boolean or list",
    ),
    "regex": (frozenset({"string"}), "a string (a regular expression)"),
}


class ConditionError(ValueError):
    """Invalid conditions."""

    def __init__(self, message: str, path: str = ROOT) -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}")

    def __reduce__(self) -> tuple[type[ConditionError], tuple[str, str]]:
        # The default would rebuild from str(self), folding the path into the message.
        return (type(self), (self.message, self.path))


# --------------------------------------------------------------------------- validation


def validate_conditions(conditions: object) -> None:
    """Check conditions as a rule is saved; raise ConditionError naming the first problem.

    None and {} are valid and mean "always true".
    """
    if conditions is None:
        return
    if not isinstance(conditions, Mapping):
        raise ConditionError(
            f"must be an object (a condition or a condition set), got {_kind(conditions)}"
        )
    if not conditions:
        return
    _Validator().node(conditions, ROOT, 1)


class _Validator:
    """One validation pass; holds the running size count."""

    def __init__(self) -> None:
        self.nodes = 0

    def count(self, path: str) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ConditionError(
                f"conditions too large (more than {MAX_NODES} conditions, sets and values)",
                path,
            )

    def node(self, node: object, path: str, depth: int) -> None:
        self.count(path)
        if not isinstance(node, Mapping):
            raise ConditionError(
                f"must be an object (a condition or a condition set), got {_kind(node)}", path
            )
        if not node:
            raise ConditionError(
                "empty object (expected a condition with 'attr' "
                "or a condition set with 'and' or 'or')",
                path,
            )
        if any(key in node for key in LOGIC_KEYS):
            self.condition_set(node, path, depth)
        else:
            self.condition(node, path)

    def condition_set(self, node: Mapping[Any, Any], path: str, depth: int) -> None:
        if len(node) != 1:
            found = ", ".join(repr(k) for k in node)
            raise ConditionError(
                f"a condition set must have exactly one key, 'and' or 'or' (found {found})",
                path,
            )
        if depth > MAX_DEPTH:
            raise ConditionError(f"condition sets nested too deeply (limit {MAX_DEPTH})", path)
        ((logic, items),) = node.items()
        path = f"{path}.{logic}"
        if not isinstance(items, list):
            raise ConditionError(f"must be a list of conditions, got {_kind(items)}", path)
        for i, item in enumerate(items):
            self.node(item, f"{path}[{i}]", depth + 1)

    def condition(self, node: Mapping[Any, Any], path: str) -> None:
        for key in node:
            if key not in CONDITION_KEYS:
                raise ConditionError(_unknown_key(key), path)
        if "attr" not in node:
            raise ConditionError("missing required key 'attr'", path)
        _check_attr(node["attr"], f"{path}.attr")

        op = node.get("op", "eq")
        if not isinstance(op, str):
            raise ConditionError(f"must be a string, got {_kind(op)}", f"{path}.op")
        if op not in OPERATORS:
            raise ConditionError(
                f"unknown operator {op!r} (expected one of {', '.join(OPERATORS)})", f"{path}.op"
            )

        negate = node.get("negate", False)
        if not isinstance(negate, bool):
            raise ConditionError(f"must be true or false, got {_kind(negate)}", f"{path}.negate")

        if op in SNAPSHOT_OPERATORS:
            if "value" in node:
                raise ConditionError(
                    f"operator {op!r} compares the before and after snapshots and takes no value",
                    f"{path}.value",
                )
            return
        if "value" not in node:
            raise ConditionError(f"missing required key 'value' (operator {op!r} needs one)", path)
        self.value(op, node["value"], f"{path}.value")

    def value(self, op: str, value: object, path: str) -> None:
        kinds, expected = _VALUE_KINDS[op]
        kind = _kind(value)
        if kind not in kinds:
            raise ConditionError(f"operator {op!r} needs {expected}, got {kind}", path)
        self.json_value(value, path, 1)
        if op == "regex":
            assert isinstance(value, str)  # guaranteed by _VALUE_KINDS
            _, problem = _compile_regex(value)
            if problem is not None:
                raise ConditionError(problem, path)

    def json_value(self, value: object, path: str, depth: int) -> None:
        """Check a comparison value, and any list inside it, holds only sane JSON."""
        self.count(path)
        kind = _kind(value)
        if kind == "string":
            assert isinstance(value, str)
            if len(value) > MAX_STRING_LENGTH:
                raise ConditionError(
                    f"string too long ({len(value)} characters, limit {MAX_STRING_LENGTH})", path
                )
        elif kind == "number":
            assert isinstance(value, (int, float))
            if not math.isfinite(value):
                raise ConditionError(f"must be a finite number, got {value!r}", path)
        elif kind in ("list", "object"):
            if depth > MAX_DEPTH:
                raise ConditionError(f"value nested too deeply (limit {MAX_DEPTH})", path)
            if isinstance(value, list):
                for i, item in enumerate(value):
                    self.json_value(item, f"{path}[{i}]", depth + 1)
            else:
                assert isinstance(value, Mapping)
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise ConditionError(f"object keys must be strings, got {key!r}", path)
                    self.json_value(item, f"{path}.{key}", depth + 1)
        elif kind not in ("boolean", "null"):
            raise ConditionError(f"unsupported value type {kind} (values must be JSON)", path)


def _check_attr(attr: object, path: str) -> None:
    if not isinstance(attr, str):
        raise ConditionError(f"must be a string, got {_kind(attr)}", path)
    if not attr:
        raise ConditionError("must not be empty", path)
    if len(attr) > MAX_STRING_LENGTH:
        raise ConditionError(f"too long ({len(attr)} characters, limit {MAX_STRING_LENGTH})", path)
    if "" in attr.split("."):
        # An empty segment names the key "", which real payloads never have, so the
        # condition could only ever be unknown.
        raise ConditionError(f"empty segment in dotted path {attr!r}", path)


def _unknown_key(key: object) -> str:
    message = f"unknown key {key!r} (a condition's keys are attr, value, op and negate)"
    if isinstance(key, str) and key.lower() in LOGIC_KEYS:
        # NetBox documents upper-case logic in places but only lower-case works there too.
        message += f"; logic keys are lower-case: use {key.lower()!r}"
    return message


def _kind(value: object) -> str:
    """The JSON name of a value's type, for messages and the operator type table."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


# The parser the `re` module compiles with (there are no type stubs for it).
_sre_parser: Any = importlib.import_module("re._parser")
_sre: Any = importlib.import_module("re._constants")
_REPEATS: Final = (_sre.MAX_REPEAT, _sre.MIN_REPEAT)
# Never backtracked into once matched, so whatever they hold cannot multiply the work.
_ATOMIC: Final = (_sre.POSSESSIVE_REPEAT, _sre.ATOMIC_GROUP)
_CHOICES: Final = (_sre.BRANCH, _sre.GROUPREF, _sre.GROUPREF_EXISTS)
_CATASTROPHIC: Final = (
    "a repeated part of the pattern holds another choice (a quantifier, an alternation or a "
    "backreference), which can take exponential time on a string that almost matches; make "
    "the repetition possessive (`(?:...)++`, `*+`) or atomic (`(?>...)`), or remove the inner "
    "choice"
)


@functools.lru_cache(maxsize=1024)
def _compile_regex(pattern: str) -> tuple[re.Pattern[str] | None, str | None]:
    """The compiled pattern (None if invalid) and why it is refused, if it is: not a valid
    expression, groups nested more than MAX_DEPTH deep, or a shape that backtracks
    catastrophically (`_backtracks`)."""
    # Shared by validation and evaluation, so saving a rule also warms the cache.
    if _group_depth(pattern) > MAX_DEPTH:
        return None, f"regular expression nests groups too deeply (limit {MAX_DEPTH})"
    try:
        compiled = re.compile(pattern)
        risky = _backtracks(_sre_parser.parse(pattern))
    except (re.error, OverflowError, RecursionError) as exc:
        # OverflowError: a repetition count past the engine's limit (`a{99999999999}`).
        return None, f"invalid regular expression: {exc}"
    return compiled, f"regular expression refused: {_CATASTROPHIC}" if risky else None


def _group_depth(pattern: str) -> int:
    """How deeply the pattern nests parentheses (escapes and character sets skipped); the
    parser recurses per level and would overflow the stack on thousands."""
    depth = deepest = 0
    escaped = in_set = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_set:
            in_set = char != "]"
        elif char == "[":
            in_set = True
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def _backtracks(parsed: Any) -> bool:
    """Whether a repeated part of a parsed pattern holds a choice: a quantifier of variable
    count, an alternation, a backreference or a conditional. Each repetition then tries every
    way of splitting the text between its iterations and their choices, exponentially many on
    text that almost matches (`(a+)+$`, `(a|aa)+$`, `(\\w+\\s?)+$` against "aaaa...!").
    Possessive and atomic parts are never backtracked into, so they are allowed."""
    pending: list[tuple[Any, bool]] = [(parsed, False)]
    while pending:
        items, repeated = pending.pop()
        for op, arg in items:
            if op in _REPEATS:
                low, high, body = arg
                if repeated and low != high:
                    return True
                pending.append((body, repeated or high > 1))
            elif op in _ATOMIC:
                continue
            elif op in _CHOICES and repeated:
                return True
            elif op == _sre.BRANCH:
                pending.extend((branch, repeated) for branch in arg[1])
            elif op == _sre.SUBPATTERN:
                pending.append((arg[3], repeated))
            elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
                pending.append((arg[1], repeated))
            elif op == _sre.GROUPREF_EXISTS:
                pending.extend((branch, repeated) for branch in arg[1:] if branch is not None)
    return False


# --------------------------------------------------------------------------- evaluation

# Marks a path that does not resolve; distinct from a resolved null.
_UNRESOLVED: Final = object()

# Operator functions return None for "unknown" (see the module docstring).
_Op = Callable[[Any, Any], bool | None]


def evaluate(
    conditions: Mapping[str, Any] | None,
    data: Mapping[str, Any],
    snapshots: Mapping[str, Any] | None = None,
) -> bool:
    """Whether `data` (and, for changed/unchanged, `snapshots`) satisfies `conditions`.

    Conditions must have passed validate_conditions: they are not re-checked. Never raises
    because of the data; malformed conditions raise ConditionError if evaluation trips on
    them (not guaranteed, since evaluation stops as soon as the result is known).
    `snapshots` holds "prechange" and "postchange" mappings; either may be missing or null.
    """
    if not conditions:
        return True
    try:
        return _eval_node(conditions, data, snapshots, 1) is True
    except Exception:
        # The operators and path walker are written not to raise on any JSON data, so
        # a failure almost always means malformed conditions: report them properly.
        validate_conditions(conditions)
        # Valid conditions, so something exotic in non-JSON data: fail closed.
        return False


@dataclass(frozen=True)
class Checked:
    """One condition of a rule tried against an event: what it asks, what it found, and whether
    it matched (None: unknown, as when the attribute is missing)."""

    path: str  # where it sits in the document, e.g. conditions.and.1
    attr: str
    op: str
    value: Any
    negate: bool
    actual: Any  # the value found at `attr` (None when it does not resolve)
    resolved: bool
    matched: bool | None


def explain(
    conditions: Mapping[str, Any] | None,
    data: Mapping[str, Any],
    snapshots: Mapping[str, Any] | None = None,
) -> list[Checked]:
    """Every condition in `conditions` (valid ones) tried on its own against `data`, in document
    order, without `evaluate`'s short cuts: what a "test this rule" screen shows."""
    found: list[Checked] = []

    def walk(node: Mapping[str, Any], path: str) -> None:
        if "attr" not in node:
            key = "and" if "and" in node else "or"
            for index, item in enumerate(node[key]):
                walk(item, f"{path}.{key}.{index}")
            return
        op, keys = node.get("op", "eq"), str(node["attr"]).split(".")
        if op in SNAPSHOT_OPERATORS:
            actual: Any = _snapshot_value(snapshots, "postchange", keys)
            resolved = True
        else:
            actual = _resolve(data, keys)
            resolved = actual is not _UNRESOLVED
        matched = _eval_node(node, data, snapshots, 1)
        found.append(
            Checked(
                path=path,
                attr=str(node["attr"]),
                op=op,
                value=node.get("value"),
                negate=bool(node.get("negate")),
                actual=actual if resolved else None,
                resolved=resolved,
                matched=matched,
            )
        )

    if conditions:
        walk(conditions, ROOT)
    return found


def _eval_node(
    node: Mapping[str, Any],
    data: Mapping[str, Any],
    snapshots: Mapping[str, Any] | None,
    depth: int,
) -> bool | None:
    attr = node.get("attr")
    if attr is None:
        if depth > MAX_DEPTH:
            raise RecursionError("condition sets nested too deeply")
        # Three-valued fold: "and" stops at the first False, "or" at the first True; an
        # unknown member makes the set unknown unless a deciding member turns up.
        is_and = "and" in node
        decisive = not is_and
        result: bool | None = is_and
        for item in node["and"] if is_and else node["or"]:
            outcome = _eval_node(item, data, snapshots, depth + 1)
            if outcome is decisive:
                return decisive
            if outcome is None:
                result = None
        return result

    op = node.get("op", "eq")
    keys = attr.split(".")
    if op in SNAPSHOT_OPERATORS:
        before = _snapshot_value(snapshots, "prechange", keys)
        after = _snapshot_value(snapshots, "postchange", keys)
        matched: bool | None = (before != after) if op == "changed" else (before == after)
    else:
        actual = _resolve(data, keys)
        if actual is _UNRESOLVED:
            return None
        matched = _OPS[op](actual, node["value"])
        if matched is None:
            return None
    return (not matched) if node.get("negate") else matched


def _resolve(obj: Any, keys: list[str]) -> Any:
    """Walk a dotted path; a list part-way down maps the rest of the path over its items."""
    for key in keys:
        # Exact dict first: it is nearly always one, and the Mapping ABC check is slow.
        if type(obj) is dict:
            obj = obj.get(key, _UNRESOLVED)
        elif isinstance(obj, (list, tuple)):
            mapped = []
            for item in obj:
                # NetBox maps one level only: every item must be an object holding the
                # key, else the whole path is unresolved (not a list with holes).
                if not (type(item) is dict or isinstance(item, Mapping)):
                    return _UNRESOLVED
                value = item.get(key, _UNRESOLVED)
                if value is _UNRESOLVED:
                    return _UNRESOLVED
                mapped.append(value)
            obj = mapped
        elif isinstance(obj, Mapping):
            obj = obj.get(key, _UNRESOLVED)
        else:
            return _UNRESOLVED
        if obj is _UNRESOLVED:
            return _UNRESOLVED
    return obj


def _snapshot_value(snapshots: Mapping[str, Any] | None, which: str, keys: list[str]) -> Any:
    # A missing snapshot (create and delete events have only one) or attribute counts as
    # null, so a field added on update reads as changed from null.
    snapshot = snapshots.get(which) if isinstance(snapshots, Mapping) else None
    value = _resolve(snapshot, keys)
    return None if value is _UNRESOLVED else value


def _is_number(value: Any) -> bool:
    # bool is an int subclass, so true/false compare as 1/0, as they do in NetBox.
    return isinstance(value, (int, float))


def _op_eq(actual: Any, expected: Any) -> bool | None:
    return bool(actual == expected)


def _op_gt(actual: Any, expected: Any) -> bool | None:
    return bool(actual > expected) if _is_number(actual) else None


def _op_gte(actual: Any, expected: Any) -> bool | None:
    return bool(actual >= expected) if _is_number(actual) else None


def _op_lt(actual: Any, expected: Any) -> bool | None:
    return bool(actual < expected) if _is_number(actual) else None


def _op_lte(actual: Any, expected: Any) -> bool | None:
    return bool(actual <= expected) if _is_number(actual) else None


def _op_in(actual: Any, expected: Any) -> bool | None:
    return actual in expected


def _op_contains(actual: Any, expected: Any) -> bool | None:
    if isinstance(actual, str):
        # Python refuses `1 in "abc"`, which NetBox reports as an invalid condition.
        return expected in actual if isinstance(expected, str) else None
    if isinstance(actual, (list, tuple)):
        return expected in actual
    if isinstance(actual, Mapping):
        # Key membership; a list is unhashable, so it cannot be a key.
        return None if isinstance(expected, list) else expected in actual
    return None


def _op_regex(actual: Any, expected: Any) -> bool | None:
    if not isinstance(actual, str) or len(actual) > MAX_REGEX_SUBJECT:
        return None
    compiled, problem = _compile_regex(expected)
    if compiled is None:
        raise ConditionError(problem or "invalid regular expression")  # `evaluate` says where
    if problem is not None:
        # A shape refused since an older hookhub saved the rule: fail closed, never stall.
        return None
    return compiled.match(actual) is not None


_OPS: Final[Mapping[str, _Op]] = {
    "eq": _op_eq,
    "gt": _op_gt,
    "gte": _op_gte,
    "lt": _op_lt,
    "lte": _op_lte,
    "in": _op_in,
    "contains": _op_contains,
    "regex": _op_regex,
}
