"""The delivery hot path renders exactly as Jinja would: constant text skips Jinja, and the
hand-built render context still offers Jinja's globals and the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hookhub.core.template_limits import LIMITS
from hookhub.core.templates import Names, RenderError, compile_template, compile_text, render

CONTEXT = {
    "event": "updated",
    "username": 'Zoë "the admin"\n',
    "data": {"id": 7, "tags": ["a", "b"], "site": {"name": "Zürich", "rack": None}},
    "when": datetime(2026, 12, 5, 8, 30, tzinfo=UTC),
}
SKELETON = (
    '{"event": "{{ event }}", "model": "{{ model }}", "timestamp": "{{ timestamp }}",\n'
    ' "username": {{ username | tojson }}, "delivery": "{{ delivery_id }}",'
    ' "data": {{ data | tojson }}}'
)


@pytest.mark.parametrize(
    "source",
    [
        "https://example.com/hook",
        "plain text with a trailing newline\n",
        "}} not a template {",
        "line one\r\nline two",  # Jinja turns CR LF into LF: kept as a template
        "{{ event }}-{{ data.id }}",
        "{% for t in data.tags %}{{ t }}{% endfor %}{{ range(3) | list }}",
        "{% set ns = namespace(n=0) %}{% for t in data.tags %}{% set ns.n = ns.n + 1 %}"
        "{% endfor %}{{ ns.n }}",
        "{{ data | tojson }}",
        # Text and top-level names only: rendered without Jinja (Names).
        "X-{{ event }}.{{ data }}",
        "a {{ missing }} b\n",
        "{{ range }}|{{ event }}",
        "line one\r\n{{ event }}",
        "{{ self }}",  # Jinja's own: not a name of the context
        # ... and names through tojson (Names too).
        "{{ username | tojson }}",
        "{{data|tojson}}",
        "{{ data | tojson() }}",
        "{{- data | tojson -}}\n",
        "{{ missing | tojson }}",
        "{{ range | tojson }}|{{ dict | tojson }}",
        "{{ when | tojson }}",  # not a JSON type: str of it, as Jinja's filter gives
        "{{ self | tojson }}",
        SKELETON,
    ],
)
def test_fast_path_renders_what_jinja_renders(source: str) -> None:
    expected = compile_template(source, "body").render(CONTEXT)
    assert render(compile_text(source, "body"), CONTEXT, "body") == expected


def test_constant_text_stays_a_string() -> None:
    assert compile_text("https://example.com/hook", "url") == "https://example.com/hook"
    assert not isinstance(compile_text("{{ event }}", "url"), str)


def test_context_variables_shadow_globals_and_do_not_leak_between_renders() -> None:
    template = compile_template("{{ range }}|{{ extra | default('none') }}", "body")
    assert render(template, {"range": "mine", "extra": 1}, "body") == "mine|1"
    assert render(template, {}, "body").endswith("|none")


def test_the_sandbox_still_applies() -> None:
    with pytest.raises(RenderError):
        render(compile_text("{{ ''.__class__.__mro__ }}", "body"), CONTEXT, "body")


def test_text_and_names_only_skip_jinja() -> None:
    assert isinstance(compile_text("{{ model }}.{{ event }}", "headers"), Names)
    for source in ("{{ data.id }}", "{{ event | upper }}", "{% if event %}x{% endif %}"):
        assert not isinstance(compile_text(source, "headers"), Names)


def test_names_through_tojson_skip_jinja() -> None:
    for source in (SKELETON, "{{data|tojson}}", "{{ data | tojson() }}"):
        assert isinstance(compile_text(source, "body"), Names)
    for source in (
        "{{ data | tojson(2) }}",
        "{{ data | tojson(indent=2) }}",
        "{{ data | tojson | upper }}",
        "{{ data.x | tojson }}",
        "{{ self | tojson }}",
    ):
        assert not isinstance(compile_text(source, "body"), Names)


def test_tojson_failures_fail_as_in_jinja() -> None:
    context = {"data": {1: "a non-string key"}}
    with pytest.raises(RenderError) as jinja:
        render(compile_template("{{ data | tojson }}", "body"), context, "body")
    with pytest.raises(RenderError) as fast:
        render(compile_text("{{ data | tojson }}", "body"), context, "body")
    assert str(fast.value) == str(jinja.value)


def test_names_keep_the_output_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LIMITS, "max_output", 10)
    with pytest.raises(RenderError, match="over the limit") as caught:
        render(compile_text("{{ event }}{{ event }}", "body"), CONTEXT, "body")
    assert caught.value.limit
