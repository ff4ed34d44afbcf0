"""Jinja2 templates in a sandbox: user-written URLs, headers and bodies can't reach internals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from jinja2 import Template, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hookhub.errors import ValidationError


def _tojson(value: Any) -> str:
    # Jinja's own tojson HTML-escapes; webhook bodies are not HTML.
    return orjson.dumps(value, default=str).decode()


class _Sandbox(ImmutableSandboxedEnvironment):
    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Jinja would render `{{ x.__class__ }}` as an empty string; an escape attempt
        # should fail loudly instead.
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )


_ENV = _Sandbox(autoescape=False, keep_trailing_newline=True)
_ENV.filters["tojson"] = _tojson
_ENV.policies["json.dumps_function"] = _tojson


class RenderError(Exception):
    """A template failed while rendering (sandbox violation, bad filter argument, ...)."""


def compile_template(source: str, field: str) -> Template:
    """Compile `source` once; a syntax error becomes a ValidationError naming `field` and line."""
    try:
        return _ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise ValidationError(
            f"template syntax error on line {exc.lineno}: {exc.message}", field=field
        ) from None


def render(template: Template, context: Mapping[str, Any], field: str) -> str:
    """Render a compiled template; any failure becomes a RenderError naming the field."""
    try:
        return template.render(context)
    except Exception as exc:
        # The sandbox raises SecurityError; user templates can raise anything else too.
        raise RenderError(f"{field}: {type(exc).__name__}: {exc}") from None
