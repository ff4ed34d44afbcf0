"""Which `Broker` consumes a source: by its URL's scheme, built in or from the
`hookhub.sources` entry point group (name = URL scheme, object = a `Broker`)."""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from urllib.parse import urlsplit

from hookhub.errors import ValidationError
from hookhub.inbound.sources.base import Broker

ENTRY_POINTS = "hookhub.sources"
# URL scheme → module whose `BROKER` consumes it.
BUILT_IN = {
    "amqp": "hookhub.inbound.sources.amqp",
    "amqps": "hookhub.inbound.sources.amqp",
    "nats": "hookhub.inbound.sources.nats",
    "tls": "hookhub.inbound.sources.nats",
    "redis": "hookhub.inbound.sources.redis",
    "rediss": "hookhub.inbound.sources.redis",
    "mqtt": "hookhub.inbound.sources.mqtt",
    "mqtts": "hookhub.inbound.sources.mqtt",
}


class MissingLibrary(ValidationError):
    """A broker's client library is not installed."""


def schemes() -> list[str]:
    """Every URL scheme a source may use."""
    return sorted({*BUILT_IN, *(point.name for point in entry_points(group=ENTRY_POINTS))})


def broker_for(url: str) -> Broker:
    """The broker for `url`'s scheme; ValidationError if none is known. Its client library may
    still be missing (`Broker.check`)."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise ValidationError(f"not a URL: {exc}", field="url") from None
    return _broker(scheme)


@cache  # per scheme; an unknown one raises, and is not cached
def _broker(scheme: str) -> Broker:
    module = BUILT_IN.get(scheme)
    if module is not None:
        broker: Broker = importlib.import_module(module).BROKER
        return broker
    for point in entry_points(group=ENTRY_POINTS, name=scheme):
        loaded: Broker = point.load()
        return loaded
    raise ValidationError(
        f"no source broker for URL scheme {scheme!r}; expected one of {', '.join(schemes())}",
        field="url",
    )


def missing(extra: str, library: str) -> MissingLibrary:
    """The error for a broker whose client library `library` is not installed."""
    return MissingLibrary(
        f"this source needs the {library} client library: pip install 'hookhub[{extra}]'",
        field="url",
    )
