"""Jinja2 templates in a sandbox: user-written URLs, headers and bodies can't reach internals,
and can't stall or bloat the process (`core/template_limits.py`, `core/deadlines.py`)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

import orjson
from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateRuntimeError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from hookhub.core import deadlines, template_limits
from hookhub.core.template_limits import LIMITS, TemplateLimitError
from hookhub.errors import ValidationError

_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "**": operator.pow,
    "*": operator.mul,
    "%": operator.mod,
    "+": operator.add,
}


def _tojson(value: Any) -> str:
    # Jinja's own tojson HTML-escapes; webhook bodies are not HTML.
    return orjson.dumps(value, default=str).decode()


class _Generator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # `a ~ b` joins in Jinja's runtime, out of the sandbox's reach: route it through the
        # environment so a loop that keeps doubling a string is stopped at the size limit.
        self.write("environment.concat_checked((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


def _unsafe(obj: Any, attribute: str) -> SecurityError:
    return SecurityError(
        f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
    )


class _Undefined(Undefined):
    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
    ) -> None:
        if name is not None and name.startswith("__") and obj is not missing:
            # A dunder the object lacks (`''.format.__self__` on the sandbox's wrapper) is as
            # much an escape attempt as one it has, which the sandbox refuses.
            raise _unsafe(obj, name)
        super().__init__(hint, obj, name, exc)


class _Sandbox(ImmutableSandboxedEnvironment):
    code_generator_class = _Generator
    # The operators that can build a value far larger than their operands.
    intercepted_binops = frozenset(_BINOPS)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Jinja would render `{{ x.__class__ }}` as an empty string; an escape attempt
        # should fail loudly instead.
        raise _unsafe(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return template_limits.checked_binop(operator, left, right, _BINOPS[operator])

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        args = template_limits.check_call(__obj, args)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None

        def bounded(*args: Any, **kwargs: Any) -> str:
            template_limits.check_brace_format(value.__self__)
            return template_limits.check_size(wrapped(*args, **kwargs), "the formatted text")

        return bounded

    @staticmethod
    def concat_checked(values: tuple[Any, ...]) -> str:
        return template_limits.check_size("".join(map(str, values)), "the joined text")


_ENV = _Sandbox(autoescape=False, keep_trailing_newline=True, undefined=_Undefined)
_ENV.filters.update(template_limits.bounded_filters(_ENV.filters))
_ENV.globals.pop("lipsum")  # filler text of any length, and no use in a webhook
_ENV.filters["tojson"] = _tojson
_ENV.policies["json.dumps_function"] = _tojson
# Merged into each render's variables by hand: Jinja's own merge walks a ChainMap per render,
# which cost more than the rendering itself on the delivery hot path.
_GLOBALS = dict(_ENV.globals)
_UNDEFINED = _Undefined()


class Names:
    """A template of text and top-level names only, each name maybe through `tojson`
    (`X-{{ model }}.{{ event }}`, most header values; `{"data": {{ data | tojson }}}`, most
    bodies), rendered as Jinja renders it without a Jinja context and time budget per render:
    34,000 instructions were 10,000 for a header, 66,000 were 43,000 for a NetBox-like body.
    No time budget is needed: it runs no template code, only `str` or one orjson call per name,
    which the watchdog could not interrupt anyway (`core/deadlines.py`); the output limit
    still applies."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[tuple[str, Callable[[Any], str] | None], ...]) -> None:
        # (text, None) or (name, what renders its value: `str` or `_tojson`), in order
        self.parts = parts

    def chunks(self, context: Mapping[str, Any]) -> Iterable[str]:
        """The rendered pieces, in order."""
        for text, convert in self.parts:
            if convert is None:
                yield text
            elif text in context:
                yield convert(context[text])
            else:
                # Jinja looks in its globals next, and passes an undefined name on as
                # `_Undefined` (`str` gives "", `tojson` gives '""').
                yield convert(_GLOBALS.get(text, _UNDEFINED))


# A compiled template; `Names`, for one that only substitutes names; or the source itself when
# it is constant.
Text = Template | Names | str


class RenderError(Exception):
    """A template failed while rendering (sandbox violation, bad filter argument, ...)."""

    def __init__(self, message: str, limit: bool = False) -> None:
        super().__init__(message)
        self.limit = limit  # a size or time limit was hit: it fails whatever the input


# Sources whose compiled code is kept: many webhooks share one body or header template (a
# tenant's endpoints, a preset's), and compiling one costs ~2 ms, so a process serving 3,000
# webhooks spent most of its first minute compiling the same few templates again.
COMPILED_SOURCES = 4096


@dataclass(slots=True)
class _Source:
    """A source's compiled code, the names it reads, and the limits (max output, timeout) its
    trial render (`_trial`) passed under, once one has."""

    code: CodeType
    names: frozenset[str]
    passed: tuple[int, float] | None = None


@functools.lru_cache(maxsize=COMPILED_SOURCES)
def _code(source: str) -> _Source:
    """`source` compiled, with the names it reads (errors are not kept)."""
    tree = _ENV.parse(source)
    return _Source(_ENV.compile(tree), frozenset(meta.find_undeclared_variables(tree)))


def compile_template(source: str, field: str) -> Template:
    """Compile `source` once; a syntax error, or a template that breaks a limit whatever its
    input, becomes a ValidationError naming `field`. Each call returns a template of its own
    (what one webhook's renders mark on it stays its own); the code is shared by source."""
    try:
        compiled = _code(source)
    except TemplateSyntaxError as exc:
        raise ValidationError(
            f"template syntax error on line {exc.lineno}: {exc.message}", field=field
        ) from None
    except RecursionError:
        raise ValidationError("template is nested too deeply", field=field) from None
    template = _ENV.template_class.from_code(_ENV, compiled.code, _ENV.make_globals(None))
    limits = (LIMITS.max_output, LIMITS.timeout)
    if compiled.passed != limits:
        # Once per source and limits, not per webhook: the trial was three quarters of
        # compiling a webhook, and 3,000 webhooks of a few shared templates each paid it.
        _trial(template, set(compiled.names), field)
        compiled.passed = limits
    return template


def undeclared_names(source: str) -> set[str]:
    """The top-level names a template reads (`usr` in `{{ usr.name }}`); empty when it does not
    parse (compile_template reports that)."""
    try:
        return set(meta.find_undeclared_variables(_ENV.parse(source)))
    except (TemplateSyntaxError, RecursionError):
        return set()


def globals_names() -> set[str]:
    """Names every template can read whatever the context (`range`, `dict`, ...)."""
    return set(_GLOBALS)


def _trial(template: Template, names: set[str], field: str) -> None:
    """Render once with placeholder inputs, so that a template of constants that breaks a
    limit (`{{ 9 ** (9 ** 9) }}`) is refused when saved rather than at every send."""
    context = {name: ChainableUndefined(name=name) for name in names}
    try:
        render(template, context, field)
    except RenderError as exc:
        if exc.limit:
            raise ValidationError(str(exc).removeprefix(f"{field}: "), field=field) from None
        # Anything else may well work with a real event.


def variables(source: str) -> frozenset[str]:
    """The names a template reads from its context (ValidationError if it does not parse)."""
    try:
        return frozenset(meta.find_undeclared_variables(_ENV.parse(source)))
    except TemplateSyntaxError as exc:
        raise ValidationError(f"template syntax error: {exc.message}") from None


def compile_text(source: str, field: str) -> Text:
    """Like `compile_template`, but a source without Jinja syntax stays a plain string."""
    # Jinja would turn CR LF into LF: such sources go through it to render exactly as before.
    if "{" in source or "\r" in source:
        template = compile_template(source, field)
        return _names(source) or template
    return source


@functools.lru_cache(maxsize=COMPILED_SOURCES)
def _names(source: str) -> Names | None:
    """`source` as `Names`, if it holds only text and top-level names, each maybe through
    `tojson` (it compiles). Kept per source, as the code is: 3,000 webhooks sharing a header
    template parsed it 3,000 times."""
    parts: list[tuple[str, Callable[[Any], str] | None]] = []
    for output in _ENV.parse(source).body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append((node.data, None))  # line breaks as Jinja renders them
            elif substitution := _substitution(node):
                parts.append(substitution)
            else:
                return None
    return Names(tuple(parts))


def _substitution(node: nodes.Node) -> tuple[str, Callable[[Any], str]] | None:
    """The name `node` reads and what renders its value, if it is `{{ name }}` or
    `{{ name | tojson }}` (`tojson()` parses the same: no arguments)."""
    read: nodes.Node | None = node
    convert: Callable[[Any], str] = str
    if isinstance(node, nodes.Filter) and node.name == "tojson":
        if node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
            return None
        read, convert = node.node, _tojson
    # (Jinja gives `self`, the template's blocks, whatever the context holds.)
    if isinstance(read, nodes.Name) and read.ctx == "load" and read.name != "self":
        return read.name, convert
    return None


def render(template: Text, context: Mapping[str, Any], field: str) -> str:
    """Render a compiled template within the size and time limits; any failure becomes a
    RenderError naming the field."""
    if isinstance(template, str):
        return template
    overrun: str | None = getattr(template, "_hookhub_overrun", None)
    if overrun:
        # Rendering it again would stall the loop again, most likely for one more failure.
        raise RenderError(
            f"{field}: {overrun} before; not rendered again until saved anew", limit=True
        )
    try:
        if isinstance(template, Names):
            return _joined(template.chunks(context))
        token = deadlines.start(LIMITS.timeout)
        try:
            # What Template.render does, minus its per-call merge of the environment's globals.
            variables = {**_GLOBALS, **context}
            ctx = _ENV.context_class(_ENV, variables, template.name, template.blocks)
            return _joined(template.root_render_func(ctx))
        finally:
            deadlines.stop(token)
    except deadlines.Overrun:
        message = f"rendering took longer than {LIMITS.timeout:g} s (HOOKHUB_TEMPLATE_TIMEOUT)"
        template._hookhub_overrun = message  # type: ignore[union-attr]
        raise RenderError(f"{field}: {message}", limit=True) from None
    except TemplateLimitError as exc:
        raise RenderError(f"{field}: {exc}", limit=True) from None
    except Exception as exc:
        # The sandbox raises SecurityError; user templates can raise anything else too.
        raise RenderError(f"{field}: {type(exc).__name__}: {exc}") from None


def _joined(chunks: Iterable[str]) -> str:
    """The rendered text, refused as soon as it grows past the output limit."""
    parts: list[str] = []
    add = parts.append
    room = LIMITS.max_output
    for chunk in chunks:
        room -= len(chunk)
        if room < 0:
            raise TemplateLimitError(
                f"the rendered text is over the limit of {LIMITS.max_output:,} characters "
                "(HOOKHUB_TEMPLATE_MAX_OUTPUT)"
            )
        add(chunk)
    return "".join(parts)


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
