"""Sandboxed Jinja2: syntax errors at save time, escapes fail at render time."""

from __future__ import annotations

import pytest

from hookhub.core.templates import RenderError, compile_template, render
from hookhub.errors import ValidationError


def test_syntax_errors_name_the_field_and_line() -> None:
    with pytest.raises(ValidationError) as caught:
        compile_template("ok\n{{ data.name ", "body_template")
    assert caught.value.field == "body_template"
    assert "line 2" in caught.value.message


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ data.__init__.__globals__ }}",
        "{{ data.update({'x': 1}) }}",
    ],
)
def test_sandbox_escapes_raise_render_errors(source: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(compile_template(source, "body_template"), {"data": {}}, "body_template")
    assert str(caught.value).startswith("body_template: SecurityError")


def test_tojson_does_not_html_escape() -> None:
    template = compile_template("{{ data | tojson }}", "body_template")
    assert render(template, {"data": {"a": "<b>&"}}, "b") == '{"a":"<b>&"}'
