"""Destinations beyond HTTP: a webhook whose URL is a broker's delivers to a queue or a bus.

The URL's scheme picks the destination (`amqp://`, `nats://`, `redis://`, `mqtt://`; http(s)
as before); the webhook's `destination` object holds the options its kind needs, the targets
among them Jinja2 templates. Each kind is one module behind `base.Destination`; its client
library is an optional extra (`pip install 'hookhub[amqp]'`). More kinds are classes registered
in the entry point group `hookhub.destinations`.

Saving a webhook calls `check`; compiling it, `compile_destination` (its kind is decided once,
so the HTTP path pays nothing per request); the Sender publishes through `open_destination`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from hookhub.core.policy import NetworkPolicy, PolicyRefused
from hookhub.core.templates import (
    RenderError,
    Text,
    compile_text,
    literal_parts,
    render,
    variables,
)
from hookhub.errors import MissingExtra, ValidationError
from hookhub.outbound.destinations.amqp import AmqpDestination
from hookhub.outbound.destinations.base import BrokerError, Destination
from hookhub.outbound.destinations.mqtt import MqttDestination
from hookhub.outbound.destinations.nats import NatsDestination
from hookhub.outbound.destinations.redis_stream import RedisStreamDestination
from hookhub.outbound.request import Route

log = logging.getLogger("hookhub.destinations")

ENTRY_POINT_GROUP = "hookhub.destinations"
HTTP = "http"
BUILTIN: tuple[type[Destination[Any]], ...] = (
    AmqpDestination,
    NatsDestination,
    RedisStreamDestination,
    MqttDestination,
)
MAX_TARGET = 1000  # characters of a rendered target (routing key, subject, stream, topic)
# Context names whose values (strings) may key remembered routes, and how many are kept.
MEMO_NAMES = frozenset({"event", "model", "object_type", "webhook", "username"})
MEMO_SIZE = 4096  # routes per webhook version; emptied when full


@functools.cache
def kinds() -> dict[str, type[Destination[Any]]]:
    """The built-in destinations and every loadable plugin, by kind (cached)."""
    found: dict[str, type[Destination[Any]]] = {cls.kind: cls for cls in BUILTIN}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception:
            log.exception("destination plugin %s skipped: it failed to load", entry.value)
            continue
        if not (isinstance(loaded, type) and issubclass(loaded, Destination)):
            log.error("destination plugin %s skipped: not a Destination subclass", entry.value)
        elif getattr(loaded, "kind", None) != entry.name or entry.name in found:
            log.error(
                "destination plugin %s skipped: its kind must be the entry point's name %r, "
                "and not taken",
                entry.value,
                entry.name,
            )
        else:
            found[entry.name] = loaded
    return found


@functools.cache
def schemes() -> dict[str, str]:
    """URL scheme → destination kind."""
    return {scheme: cls.kind for cls in kinds().values() for scheme in cls.schemes}


def kind_of(url: str) -> str:
    """The destination kind a webhook URL (a template) selects: by its literal scheme."""
    parts = literal_parts(url)
    if not parts or not parts[0][1]:
        return HTTP  # starts with a template: only HTTP(S) URLs may be rendered whole
    scheme, sep, _ = parts[0][0].strip().partition("://")
    return schemes().get(scheme.lower(), HTTP) if sep else HTTP


def check(url: str, destination: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The `destination` to store for a webhook with `url`: None for HTTP, else its options
    with `type` and defaults; ValidationError if they do not suit the URL's scheme."""
    kind = kind_of(url)
    given = dict(destination or {})
    named = given.pop("type", None)
    if kind == HTTP:
        if named not in (None, HTTP) or given:
            known = ", ".join(f"{s}://" for s in schemes())
            raise ValidationError(
                f"an http(s) URL takes no destination options; a URL starting with {known} "
                "selects a broker destination",
                field="destination",
            )
        return None
    if named not in (None, kind):
        raise ValidationError(
            f"the URL's scheme selects a {kind} destination, not {named}", field="destination.type"
        )
    cls = kinds()[kind]
    options = cls.options(given)
    for name in cls.templates:
        compile_text(options[name], f"destination.{name}")
    try:
        cls.check_library()
    except MissingExtra as exc:
        raise ValidationError(exc.message, field="url") from None
    return {"type": kind, **options}


@dataclass(frozen=True)
class CompiledDestination:
    """A webhook's destination options, templates compiled: renders each message's Route.

    Targets usually read only the event's names (`{{ model }}.{{ event }}`): when every
    template reads only MEMO_NAMES, the routes are remembered by those names' values, so a
    message costs a dictionary lookup instead of one render per target.
    """

    kind: str
    fixed: Mapping[str, Any]
    templates: tuple[tuple[str, Text], ...]
    reads: tuple[str, ...] | None = None  # the MEMO_NAMES read; None: not memoizable
    _routes: dict[tuple[Any, ...], Route] = field(default_factory=dict, compare=False)

    def route(self, context: Mapping[str, Any]) -> Route:
        """The options for one message; RenderError when a target renders too long."""
        if self.reads is None:
            return self._render(context)
        key = tuple(context.get(name) for name in self.reads)
        try:
            return self._routes[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value (a template-written event, perhaps)
            return self._render(context)
        route = self._render(context)
        if len(self._routes) >= MEMO_SIZE:
            self._routes.clear()
        self._routes[key] = route
        return route

    def _render(self, context: Mapping[str, Any]) -> Route:
        options = dict(self.fixed)
        for name, template in self.templates:
            value = render(template, context, f"destination.{name}").strip()
            if len(value) > MAX_TARGET:
                raise RenderError(f"destination.{name}: over {MAX_TARGET} characters")
            options[name] = value
        return Route(self.kind, options)


def compile_destination(stored: Mapping[str, Any] | None) -> CompiledDestination | None:
    """A stored `destination` compiled, or None for HTTP; ValidationError for an unknown kind
    (a plugin that is gone) or a template that no longer compiles."""
    if not stored or stored.get("type", HTTP) == HTTP:
        return None
    kind = stored["type"]
    cls = kinds().get(kind)
    if cls is None:
        raise ValidationError(
            f"no {kind!r} destination is installed (known: {', '.join(kinds())})",
            field="destination.type",
        )
    # Defaults under what is stored: options added by a later version have their default.
    options = {k: v for k, v in cls.defaults.items() if v is not None}
    options.update((k, v) for k, v in stored.items() if k != "type")
    missing = [name for name in cls.defaults if name not in options]
    if missing:
        raise ValidationError(f"{missing[0]} is required", field=f"destination.{missing[0]}")
    sources = {name: options.pop(name) for name in cls.templates if name in options}
    templates = tuple(
        (name, compile_text(source, f"destination.{name}")) for name, source in sources.items()
    )
    read = frozenset().union(*(variables(source) for source in sources.values()))
    reads = tuple(sorted(read)) if read <= MEMO_NAMES else None
    return CompiledDestination(kind, options, templates, reads)


def open_destination(kind: str, policy: NetworkPolicy | None) -> Destination[Any]:
    """A destination of `kind` for one process (its connection pools live as long as it)."""
    cls = kinds().get(kind)
    if cls is None:
        raise ValidationError(f"no {kind!r} destination is installed", field="destination.type")
    cls.check_library()
    return cls(policy)


def describe(exc: BaseException, timeout: float) -> str:
    """A one-line, user-facing description of why a broker did not acknowledge a message."""
    if isinstance(exc, TimeoutError):
        return f"no acknowledgement from the broker within {timeout:g} s"
    if isinstance(exc, MissingExtra | ValidationError):
        return exc.message
    if isinstance(exc, BrokerError | PolicyRefused):
        return str(exc)  # written for the attempt log, as the HTTP client's are
    text = str(exc).strip() or repr(exc)
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"


__all__ = [
    "ENTRY_POINT_GROUP",
    "BrokerError",
    "CompiledDestination",
    "Destination",
    "check",
    "compile_destination",
    "describe",
    "kind_of",
    "kinds",
    "open_destination",
]
