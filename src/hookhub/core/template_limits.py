"""Bounds on what a sandboxed template may compute, so no template stalls or bloats the process.

Jinja's sandbox stops escapes, not work: `9 ** (9 ** 9)`, `"x" * 10 ** 9` or a filter asked
for a width of a billion each run for minutes inside one C call, which no time budget can
interrupt. Every operation that can make a value much larger than its inputs is checked
*before* it runs against `LIMITS`; what grows step by step (loops, concatenation) is checked
after each step and by the render's time budget (`core/deadlines.py`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from jinja2 import pass_eval_context

T = TypeVar("T")

MAX_INT_BITS = 65_536  # bits of an integer a template may compute (~19,700 digits)
_SIZED = (str, list, tuple)  # what `*`, `+` and the string methods below can grow
# A printf conversion: optional mapping key, flags, then width and precision (either may be *).
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\d+|\*)?(?:\.(\d+|\*))?[a-zA-Z%]")
_NUMBER = re.compile(r"\d+")


@dataclass
class Limits:
    """The bounds in force in this process (`configure` sets them from the settings)."""

    # characters: the largest rendered text, or string or list built while rendering.
    max_output: int = 8 * 1024 * 1024
    # seconds of wall time one render may take.
    timeout: float = 1.0


LIMITS = Limits()


def configure(max_output: int, timeout: float) -> None:
    """Set this process's bounds (HOOKHUB_TEMPLATE_MAX_OUTPUT, HOOKHUB_TEMPLATE_TIMEOUT)."""
    LIMITS.max_output = max_output
    LIMITS.timeout = timeout


class TemplateLimitError(Exception):
    """A template asked for more than the limits allow."""


def _too_large(what: str, size: int) -> TemplateLimitError:
    return TemplateLimitError(
        f"{what} would be {size:,} characters long, over the limit of {LIMITS.max_output:,} "
        "(HOOKHUB_TEMPLATE_MAX_OUTPUT)"
    )


def weight(value: Any, limit: int | None = None) -> int:
    """About how many characters `value` renders to: strings count their length, lists and
    dicts add up what they hold (a list of a million references to one long string is heavy),
    anything else counts 1. Stops counting once past `limit`."""
    limit = LIMITS.max_output if limit is None else limit
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if not isinstance(value, list | tuple):
        return 1
    total = len(value)
    try:
        for item in value:
            if total > limit:
                break
            total += weight(item, limit - total)
    except RecursionError:
        raise TemplateLimitError("a value is nested too deeply") from None
    return total


def check_size(value: T, what: str = "the value") -> T:
    """`value` itself, if it renders to no more characters than the output limit."""
    if isinstance(value, (*_SIZED, dict)):
        _check_length(weight(value), what)
    return value


def _check_length(size: int, what: str) -> None:
    if size > LIMITS.max_output:
        raise _too_large(what, size)


def _check_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateLimitError(
            f"{what} would have about {bits:,} bits, over the limit of {MAX_INT_BITS:,}"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _check_power(base: Any, exponent: Any) -> None:
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        _check_bits(base.bit_length() * exponent, "the power")


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        _check_bits(left.bit_length() + right.bit_length(), "the product")
    elif isinstance(left, _SIZED) and _is_int(right):
        _check_length(weight(left) * right, "the repetition")
    elif _is_int(left) and isinstance(right, _SIZED):
        _check_length(weight(right) * left, "the repetition")


def _check_widths(numbers: Iterable[str], what: str) -> None:
    _check_length(sum(int(number) for number in numbers), what)


def check_percent_format(text: Any) -> None:
    """Refuse a printf-style format whose widths and precisions add up past the limit."""
    if not isinstance(text, str):
        return
    numbers = []
    for match in _PERCENT_SPEC.finditer(text):
        for part in match.groups():
            if part == "*":
                raise TemplateLimitError("'*' widths are not allowed in % formats")
            if part:
                numbers.append(part)
    _check_widths(numbers, "the formatted text")


def check_brace_format(text: str) -> None:
    """Refuse a str.format pattern whose widths and precisions add up past the limit."""
    numbers = []
    for _, _, spec, _ in string.Formatter().parse(text):
        if spec:
            if "{" in spec:
                raise TemplateLimitError("nested fields are not allowed in format specs")
            numbers += _NUMBER.findall(spec)
    _check_widths(numbers, "the formatted text")


def checked_binop(operator: str, left: Any, right: Any, apply: Callable[[Any, Any], Any]) -> Any:
    """Run `left <operator> right` (by `apply`) if its result stays within the limits."""
    if operator == "**":
        _check_power(left, right)
    elif operator == "*":
        _check_product(left, right)
    elif operator == "%":
        check_percent_format(left)
    # `+` and `%` grow at most by their inputs' sizes, which are bounded: check after.
    return check_size(apply(left, right), f"the result of {operator!r}")


def _replaced_size(text: str, old: str, new: str, count: int | None = None) -> int:
    hits = len(text) + 1 if old == "" else text.count(old)
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * (len(new) - len(old))


def _str_method_size(text: str, name: str, args: tuple[Any, ...]) -> int | None:
    """How long `text.<name>(*args)` would be, for the methods that can grow a string a lot."""
    first = args[0] if args else None
    if name in ("center", "ljust", "rjust", "zfill") and isinstance(first, int):
        return max(len(text), first)
    if name == "expandtabs":
        return len(text) * max(first if isinstance(first, int) else 8, 1)
    if name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        count = args[2] if len(args) > 2 and _is_int(args[2]) else None
        return _replaced_size(text, args[0], args[1], count)
    if name == "translate" and isinstance(first, dict):
        longest = max((len(v) for v in first.values() if isinstance(v, str)), default=1)
        return len(text) * max(longest, 1)
    return None


def _check_joined(items: list[Any], separator: str) -> None:
    _check_length(weight(items) + len(separator) * max(len(items) - 1, 0), "the joined text")


def check_call(function: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Refuse a call of a string method that would build a string past the limit; returns the
    arguments to call with (`join`'s iterable is read into a list to be measured)."""
    owner = getattr(function, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(function, "__name__", "")
    if name == "join" and args:
        items = list(args[0])
        _check_joined(items, owner)
        return (items, *args[1:])
    size = _str_method_size(owner, name, args)
    if size is not None:
        _check_length(size, f"the result of str.{name}")
    return args


def bounded_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """Jinja's filters that can grow their output far past their input, with bounds."""
    center, indent, fmt = filters["center"], filters["indent"], filters["format"]
    replace, join, batch, slice_ = (
        filters["replace"],
        filters["join"],
        filters["batch"],
        filters["slice"],
    )

    def do_center(value: Any, width: int = 80) -> Any:
        _check_length(width, "the centered text")
        return center(value, width)

    def do_indent(
        value: Any, width: int | str = 4, first: bool = False, blank: bool = False
    ) -> Any:
        lines = str(value).count("\n") + 1
        step = width if _is_int(width) else len(str(width))
        _check_length(len(str(value)) + lines * int(step), "the indented text")
        return indent(value, width, first, blank)

    def do_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        check_percent_format(value)
        return check_size(fmt(value, *args, **kwargs), "the formatted text")

    @pass_eval_context
    def do_replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: int | None = None) -> Any:
        _check_length(_replaced_size(str(value), str(old), str(new), count), "the replaced text")
        return replace(eval_ctx, value, old, new, count)

    @pass_eval_context
    def do_join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        items = list(value)
        _check_joined(items, str(d))
        return check_size(join(eval_ctx, items, d, attribute), "the joined text")

    def do_batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        if fill_with is not None:
            _check_length(linecount * weight(fill_with), "the batch")
        return batch(value, linecount, fill_with)

    def do_slice(value: Any, slices: int, fill_with: Any = None) -> Any:
        _check_length(slices * weight(fill_with), "the slices")
        return slice_(value, slices, fill_with)

    return {
        "center": do_center,
        "indent": do_indent,
        "format": do_format,
        "replace": do_replace,
        "join": do_join,
        "batch": do_batch,
        "slice": do_slice,
    }
