"""Fuzzing: random templates over random event data. Compiling either succeeds or refuses with
a ValidationError; rendering either gives text within the output limit or a RenderError. Never
another exception, and never a stall (each example is bounded by hypothesis's deadline)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hookhub.core import template_limits
from hookhub.core.templates import RenderError, compile_template, render
from hookhub.errors import ValidationError

MAX_OUTPUT = 20_000  # characters: small, so that every growth path is reached quickly
TIMEOUT = 0.2  # seconds per render

numbers = st.one_of(
    st.integers(-3, 12), st.sampled_from(["10**9", "9**9", "999999999", "2**62", "-1", "0.5"])
)
strings = st.sampled_from(["'x'", "'ab'", "''", "'%5d'", "'{:>9}'", "'a\\tb'", "'%s%s'"])
names = st.sampled_from(["data.s", "data.n", "data.items", "data.big", "data.missing", "event"])
atoms = st.one_of(numbers.map(str), strings, names, st.just("[data.s]"), st.just("range(50)"))
binops = st.sampled_from(["**", "*", "%", "+", "~", "-", "//", "/"])
filters = st.sampled_from(
    [
        "center({n})",
        "indent({n})",
        "format({n})",
        "replace('', 'yy')",
        "join('--')",
        "batch({n}, 'f')|list",
        "slice({n}, 'f')|list",
        "list",
        "string",
        "tojson",
        "length",
        "sum",
        "wordwrap({n})",
        "truncate({n})",
        "int",
        "round({n})",
    ]
)
methods = st.sampled_from(
    [
        "ljust({n})",
        "center({n})",
        "zfill({n})",
        "expandtabs({n})",
        "replace('', 'zz')",
        "join(['a', 'b'])",
        "format(1, 2)",
        "upper()",
        "split()",
        "__class__",
    ]
)


def _expressions() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, binops, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, filters, numbers).map(lambda t: f"({t[0]}|{t[1].format(n=t[2])})"),
            st.tuples(inner, methods, numbers).map(lambda t: f"({t[0]}).{t[1].format(n=t[2])}"),
        )

    return st.recursive(atoms, extend, max_leaves=6)


def _templates() -> st.SearchStrategy[str]:
    expression = _expressions()
    return st.one_of(
        expression.map(lambda e: "{{ " + e + " }}"),
        st.tuples(expression, expression).map(
            lambda t: "{% for i in " + t[0] + " %}{{ " + t[1] + " }}{% endfor %}"
        ),
        st.tuples(expression, expression).map(
            lambda t: (
                "{% set ns = namespace(v=" + t[0] + ") %}{% for i in range(30) %}"
                "{% set ns.v = ns.v ~ " + t[1] + " %}{% endfor %}{{ ns.v }}"
            )
        ),
    )


data = st.fixed_dictionaries(
    {
        "s": st.text(max_size=20),
        "n": st.one_of(st.integers(-5, 10**9), st.floats(allow_nan=True)),
        "items": st.lists(st.integers(), max_size=20),
        "big": st.just("b" * 5000),
    }
)


@pytest.fixture(autouse=True)
def small_limits() -> Iterator[None]:
    saved = (template_limits.LIMITS.max_output, template_limits.LIMITS.timeout)
    template_limits.configure(MAX_OUTPUT, TIMEOUT)
    yield
    template_limits.configure(*saved)


@settings(
    max_examples=400,
    deadline=None,  # the render's own budget bounds each example; the machine may be loaded
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(source=_templates(), values=data)
def test_any_template_compiles_or_is_refused_and_renders_within_the_limits(
    source: str, values: dict[str, Any]
) -> None:
    try:
        template = compile_template(source, "body_template")
    except ValidationError as exc:
        assert exc.field == "body_template"
        return
    try:
        text = render(template, {"data": values, "event": "created"}, "body_template")
    except RenderError as exc:
        assert str(exc).startswith("body_template: ")
        return
    assert len(text) <= MAX_OUTPUT
