"""Query strings as JSON, paths into JSON, and the path list of a sample."""

from __future__ import annotations

import pytest

from hookhub.core.paths import PathError, check_path, get_path, parse_query, paths_of


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a[0].b=1", {"a": [{"b": "1"}]}),
        ("a[0][b]=1&a[1][b]=2", {"a": [{"b": "1"}, {"b": "2"}]}),
        ("a[]=1&a[]=2", {"a": ["1", "2"]}),
        ("a.b=1&a.c=2", {"a": {"b": "1", "c": "2"}}),
        ("a=1&a=2&a=3", {"a": ["1", "2", "3"]}),
        ("q=hello+world&e=%C3%A9&flag", {"q": "hello world", "e": "é", "flag": ""}),
        ("x[2]=c", {"x": [None, None, "c"]}),
        ("x[99999]=c", {"x": ["c"]}),
        ("", {}),
        ("[weird=1", {"[weird": "1"}),
    ],
)
def test_query_strings_become_json_like_qs(query: str, expected: object) -> None:
    assert parse_query(query) == expected


def test_paths_follow_keys_and_indexes() -> None:
    doc = {"a": 1, "b": {"c": 2}, "items": [{"id": 7}, {"id": 8}]}
    assert get_path(doc, "a") == 1
    assert get_path(doc, "b.c") == 2
    assert get_path(doc, "items[1].id") == 8
    assert get_path(doc, "items[5].id") is None
    assert get_path(doc, "b.c.d") is None
    assert get_path("text", "a") is None
    assert get_path(doc, "..") is None


def test_bad_paths_are_refused() -> None:
    for path in ("", ".a", "a[]", "a..b", "a[0"):
        with pytest.raises(PathError):
            check_path(path)
    check_path("a.b[0].c")


def test_paths_of_a_sample_list_containers_and_leaves_in_order() -> None:
    sample = {"a": 1, "b": {"c": 2}, "items": [{"id": 1}], "odd.key": 3, "": 4}
    assert paths_of(sample) == ["a", "b", "b.c", "items", "items[0]", "items[0].id"]
    assert paths_of([1, 2]) == []
    assert paths_of(parse_query("a[0].b=1")) == ["a", "a[0]", "a[0].b"]
