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
# Merged into each render's variables by hand: Jinja's own merge walks a ChainMap per render,
# which cost more than the rendering itself on the delivery hot path.
_GLOBALS = dict(_ENV.globals)

Text = Template | str  # a compiled template, or the source itself when it is constant


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


def compile_text(source: str, field: str) -> Text:
    """Like `compile_template`, but a source without Jinja syntax stays a plain string."""
    # Jinja would turn CR LF into LF: such sources go through it to render exactly as before.
    if "{" in source or "\r" in source:
        return compile_template(source, field)
    return source


def render(template: Text, context: Mapping[str, Any], field: str) -> str:
    """Render a compiled template; any failure becomes a RenderError naming the field."""
    if isinstance(template, str):
        return template
    try:
        # What Template.render does, minus its per-call merge of the environment's globals.
        variables = {**_GLOBALS, **context}
        ctx = _ENV.context_class(_ENV, variables, template.name, template.blocks)
        return _ENV.concat(template.root_render_func(ctx))
    except Exception as exc:
        # The sandbox raises SecurityError; user templates can raise anything else too.
        raise RenderError(f"{field}: {type(exc).__name__}: {exc}") from None


def literal_parts(source: str) -> list[tuple[str, bool]]:
    """`source` cut into its literal text (True) and its Jinja tags and expressions (False).

    Joined back the parts are `source` exactly; a source Jinja cannot lex (or lexes with its line
    breaks changed) is one literal part.
    """
    try:
        tokens = list(_ENV.lex(source))
    except TemplateSyntaxError:
        return [(source, True)]
    parts: list[tuple[str, bool]] = []
    for _, kind, value in tokens:
        literal = kind == "data"
        if parts and parts[-1][1] == literal:
            parts[-1] = (parts[-1][0] + value, literal)
        else:
            parts.append((value, literal))
    if "".join(text for text, _ in parts) != source:
        return [(source, True)]
    return parts
