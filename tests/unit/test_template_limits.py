"""No template can stall or bloat the process: what could grow past the limits is refused,
at save time when it fails whatever the event, at render time when the event makes it fail."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from hookhub.core import template_limits, templates
from hookhub.core.templates import RenderError, compile_template, render
from hookhub.errors import ValidationError

# Each fails whatever the event: refused when saved.
CONSTANT = [
    "{{ (9**(9**9)) % 7 }}",
    "{{ 'x' * 10**9 }}",
    "{{ [1] * 10**9 }}",
    "{{ 'x'|center(999999999) }}",
    "{{ 'x'|indent(999999999) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '%999999999d'|format(1) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'a'.ljust(10**9) }}",
    "{{ 'a\tb'.expandtabs(10**9) }}",
    "{{ 'ab'|replace('', 'x' * 5000000) }}",
    "{{ 'ab'.replace('', 'x' * 5000000) }}",
    "{{ range(100000)|join('x' * 1000) }}",
    "{{ ' '.join(['x' * 1000] * 10000) }}",
    "{{ [1]|batch(10**9, 'x') }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}{{ ns.s }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{" + "(" * 5000 + "1" + ")" * 5000 + "}}",
]

# Each is fine until the event's data makes it too big: refused when rendered.
DATA_DRIVEN = [
    "{{ data.s * data.n }}",
    "{{ [data.s] * data.n }}",
    "{{ data.s|center(data.n) }}",
    "{% for i in range(10000) %}{{ data.big }}{% endfor %}",
    "{{ [data.big] * 100000 }}",
]
DATA = {"s": "y", "n": 10**9, "big": "z" * 1_000_000}


@pytest.fixture(autouse=True)
def short_timeout() -> Iterator[None]:
    """A short render budget keeps the stalling cases quick; the default comes back after."""
    limits = (template_limits.LIMITS.max_output, template_limits.LIMITS.timeout)
    template_limits.configure(limits[0], 0.3)
    yield
    template_limits.configure(*limits)


@pytest.mark.parametrize("source", CONSTANT)
def test_templates_that_always_break_a_limit_are_refused_when_saved(source: str) -> None:
    with pytest.raises(ValidationError) as caught:
        compile_template(source, "body_template")
    assert caught.value.field == "body_template"
    message = caught.value.message
    assert any(word in message for word in ("limit", "HOOKHUB_TEMPLATE", "nested too deeply"))


@pytest.mark.parametrize("source", DATA_DRIVEN)
def test_data_that_makes_a_template_too_big_fails_the_render_with_bounded_memory(
    source: str,
) -> None:
    # The output limit is what is tested: under tracemalloc on a loaded machine, the short
    # time budget could run out first.
    template_limits.configure(template_limits.LIMITS.max_output, 30.0)
    template = compile_template(source, "body_template")
    tracemalloc.start()
    try:
        with pytest.raises(RenderError) as caught:
            render(template, {"data": DATA}, "body_template")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.limit
    assert "HOOKHUB_TEMPLATE_MAX_OUTPUT" in str(caught.value)
    assert peak < 4 * template_limits.LIMITS.max_output


def test_a_render_past_its_time_is_stopped_and_not_run_again() -> None:
    loops = "{% for i in range(data.n) %}{% for j in range(data.n) %}{% endfor %}{% endfor %}"
    template = compile_template(loops, "body_template")  # placeholders give no loop to run
    with pytest.raises(RenderError) as caught:
        render(template, {"data": {"n": 100000}}, "body_template")
    assert "HOOKHUB_TEMPLATE_TIMEOUT" in str(caught.value)
    # Refused at once: even a harmless event does not get to run it again.
    with pytest.raises(RenderError) as again:
        render(template, {"data": {"n": 1}}, "body_template")
    assert "not rendered again" in str(again.value)


def test_the_limits_follow_the_settings() -> None:
    template_limits.configure(100, 0.3)
    with pytest.raises(ValidationError, match="limit of 100 "):
        compile_template("{{ 'x' * 101 }}", "body_template")
    assert render(compile_template("{{ 'x' * 100 }}", "b"), {}, "b") == "x" * 100


def test_a_source_shared_by_many_webhooks_is_tried_once_per_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tried: list[str] = []
    trial = templates._trial

    def counted(template: Any, names: set[str], field: str) -> None:
        tried.append(field)
        trial(template, names, field)

    monkeypatch.setattr(templates, "_trial", counted)
    source = "{{ data.s ~ 'x' * 150 }}"  # this test's own: no other compiled it before
    for _ in range(3):
        compile_template(source, "body_template")
    assert tried == ["body_template"]
    # Tighter limits: tried again, and refused now.
    template_limits.configure(100, 0.3)
    with pytest.raises(ValidationError, match="limit of 100 "):
        compile_template(source, "body_template")
    assert len(tried) == 2


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 2 ** 64 }}", "18446744073709551616"),
        ("{{ 'a' ~ data.s }}|{{ 'x' * 3 }}|{{ 5 % 3 }}|{{ '%05d' % 3 }}", "ay|xxx|2|00003"),
        ("{{ 'a' + 'b' }}|{{ [1] + [2] }}|{{ '{:>3}'.format(1) }}", "ab|[1, 2]|  1"),
        ("{{ 'ab'|center(4) }}|{{ 'a\nb'|indent(2) }}", " ab |a\n  b"),
        ("{{ ['a', 'b']|join(', ') }}|{{ '-'.join(['a', 'b']) }}", "a, b|a-b"),
        ("{{ 'aXa'|replace('X', 'yy') }}|{{ 'a'.ljust(3) }}|", "ayya|a  |"),
        ("{{ [1, 2, 3]|batch(2, 0)|list }}", "[[1, 2], [3, 0]]"),
    ],
)
def test_ordinary_templates_render_as_before(source: str, expected: str) -> None:
    assert render(compile_template(source, "b"), {"data": {"s": "y"}}, "b") == expected


def test_a_missing_dunder_is_an_escape_attempt_too() -> None:
    template = compile_template("{{ ''.format.__self__ }}", "body_template")
    with pytest.raises(RenderError, match="SecurityError"):
        render(template, {}, "body_template")


def test_keys_with_underscores_in_event_data_still_render() -> None:
    template = compile_template("{{ data._id }}{{ data.__x }}", "b")
    data: dict[str, Any] = {"_id": "a", "__x": "b"}
    assert render(template, {"data": data}, "b") == "ab"
