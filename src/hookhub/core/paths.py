"""Query strings as JSON (`a[0].b=1`, `a[]=1`, `a.b=1`) and paths into JSON (`items[0].id`)."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

# One step of a path: `.name`, `[name]`, `[3]` or `[]` (append, query strings only).
_STEP = re.compile(r"\.([^.\[\]]+)|\[([^\[\]]*)\]")
_HEAD = re.compile(r"[^.\[\]]+")
APPEND = object()  # the `[]` step
MAX_INDEX = 1000  # larger list indexes in a query string append instead of padding
MAX_PATHS = 1000  # paths listed for one sample
MAX_DEPTH = 32  # nesting followed when listing paths


class PathError(ValueError):
    """A path that cannot be parsed."""


@functools.lru_cache(maxsize=4096)
def steps(path: str) -> tuple[Any, ...]:
    """A path as its steps: names (str), indexes (int) and APPEND; PathError if malformed.

    Cached: the same configured paths are followed on every request."""
    head = _HEAD.match(path)
    if head is None:
        raise PathError(f"path {path!r} must start with a name")
    found: list[Any] = [head.group()]
    position = head.end()
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise PathError(f"path {path!r}: unexpected {path[position:][:20]!r}")
        name, bracket = match.groups()
        if name is not None:
            found.append(name)
        elif bracket == "":
            found.append(APPEND)
        elif bracket.isdigit():
            found.append(int(bracket))
        else:
            found.append(bracket)
        position = match.end()
    return tuple(found)


def check_path(path: str) -> None:
    """Refuse a path that `get_path` could not follow (PathError)."""
    if APPEND in steps(path):
        raise PathError(f"path {path!r}: [] only appends in query strings; use an index")


def get_path(value: Any, path: str) -> Any:
    """The value at `path` in JSON `value`, or None where the path does not lead anywhere."""
    try:
        walk = steps(path)
    except PathError:
        return None
    for step in walk:
        if isinstance(value, dict) and isinstance(step, str | int):
            value = value.get(str(step))
        elif isinstance(value, list) and isinstance(step, int) and step < len(value):
            value = value[step]
        else:
            return None
    return value


def parse_query(query: str) -> dict[str, Any]:
    """A query string as JSON, as the `qs` library does with allowDots; values stay strings.

    A name given twice becomes a list (`a=1&a=2` → ["1", "2"]).
    """
    result: dict[str, Any] = {}
    for part in query.split("&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition("=")
        name, value = unquote_plus(raw_name), unquote_plus(raw_value)
        try:
            walk = steps(name)
        except PathError:
            walk = (name,)
        _assign(result, walk, value)
    return result


def _assign(container: dict[str, Any], walk: tuple[Any, ...], value: str) -> None:
    target: Any = container
    for step, following in itertools.pairwise(walk):
        empty: Any = [] if following is APPEND or isinstance(following, int) else {}
        target = _child(target, step, empty)
    _set_leaf(target, walk[-1], value)


def _child(target: Any, step: Any, empty: Any) -> Any:
    if isinstance(target, list):
        if step is APPEND or not isinstance(step, int) or step > MAX_INDEX:
            target.append(empty)
            return empty
        target.extend([None] * (step + 1 - len(target)))
        if not isinstance(target[step], type(empty)):
            target[step] = empty
        return target[step]
    key = str(step) if step is not APPEND else ""
    if not isinstance(target.get(key), type(empty)):
        target[key] = empty
    return target[key]


def _set_leaf(target: Any, step: Any, value: str) -> None:
    if isinstance(target, list):
        if step is APPEND or not isinstance(step, int) or step > MAX_INDEX:
            target.append(value)
        else:
            target.extend([None] * (step + 1 - len(target)))
            target[step] = value
        return
    key = str(step) if step is not APPEND else ""
    existing = target.get(key)
    if existing is None:
        target[key] = value
    elif isinstance(existing, list):
        existing.append(value)
    else:
        target[key] = [existing, value]


def paths_of(value: Any) -> list[str]:
    """Every path in JSON `value`, containers and leaves, in document order (NocoBase's parse)."""
    found: list[str] = []
    for path in _walk(value, "", 0):
        if len(found) >= MAX_PATHS:
            break
        found.append(path)
    return found


def _walk(value: Any, prefix: str, depth: int) -> Iterator[str]:
    if depth >= MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            # Names with dots or brackets cannot be written as a path.
            if not key or not _HEAD.fullmatch(key):
                continue
            path = f"{prefix}.{key}" if prefix else key
            yield path
            yield from _walk(item, path, depth + 1)
    elif isinstance(value, list) and prefix:
        for index, item in enumerate(value):
            path = f"{prefix}[{index}]"
            yield path
            yield from _walk(item, path, depth + 1)
