"""The contract every broker destination fulfils, and the publish step they share.

A destination is one class per kind (`amqp`, `nats`, ...). Its class attributes say which URL
schemes select it, which pip extra installs its client library, and which of its options are
Jinja2 templates (rendered per message from the event, like a webhook's URL). One instance per
process holds a `Pool` of connections, one per broker URL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from hookhub.brokers import Pool, check_network, require
from hookhub.core.policy import NetworkPolicy
from hookhub.errors import ValidationError

if TYPE_CHECKING:
    from hookhub.outbound.request import OutboundRequest

C = TypeVar("C")

# Headers a broker message never carries: they frame an HTTP body, not a message.
SKIPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "host"})


class BrokerError(Exception):
    """A broker did not take a message; the message is written for the attempt log as is."""


class Destination(ABC, Generic[C]):
    """Publishes rendered, signed messages to one kind of broker (docs/destinations.md).

    Subclass it, set the class attributes, implement `connect`, `disconnect` and `send`, and
    register the class in the entry point group `hookhub.destinations` under its `kind`:
    `[project.entry-points."hookhub.destinations"] sqs = "my_package:SqsDestination"`.
    """

    kind: ClassVar[str]  # the `type` in a webhook's `destination` object
    schemes: ClassVar[tuple[str, ...]]  # URL schemes that select this destination
    # The client library: import name, distribution name and hookhub's pip extra for it.
    library: ClassVar[tuple[str, str, str] | None] = None
    # Option name → default (None: required); the ones in `templates` are Jinja2 templates.
    defaults: ClassVar[Mapping[str, Any]] = {}
    templates: ClassVar[tuple[str, ...]] = ()

    def __init__(self, policy: NetworkPolicy | None = None) -> None:
        self.policy = policy
        self.pool: Pool[C] = Pool(self._connect_checked, self.disconnect, self.alive)

    # -- saving a webhook

    @classmethod
    def options(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """The options with defaults filled in; ValidationError naming the field if bad.

        The default checks names, required options and that each value has its default's type
        (templates are strings); override `check` to check more.
        """
        unknown = sorted(set(given) - set(cls.defaults))
        if unknown:
            allowed = ", ".join(["type", *cls.defaults])
            raise ValidationError(
                f"unknown option {unknown[0]!r}; a {cls.kind} destination takes: {allowed}",
                field=f"destination.{unknown[0]}",
            )
        options = {**cls.defaults, **{k: v for k, v in given.items() if v is not None}}
        for name, value in options.items():
            default = cls.defaults[name]
            expected = str if default is None or name in cls.templates else type(default)
            if value is None:
                raise ValidationError(f"{name} is required", field=f"destination.{name}")
            wrong = isinstance(value, bool) != (expected is bool)
            if wrong or not isinstance(value, int if expected is float else expected):
                raise ValidationError(
                    f"{name} must be {expected.__name__}, got {type(value).__name__}",
                    field=f"destination.{name}",
                )
        cls.check(options)
        return options

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        """Check options beyond their types (may normalize them in place)."""
        return None

    @classmethod
    def check_library(cls) -> None:
        """MissingExtra when the client library is not installed."""
        if cls.library is not None:
            require(*cls.library)

    # -- publishing

    async def _connect_checked(self, url: str) -> C:
        await check_network(self.policy, url)
        return await self.connect(url)

    @abstractmethod
    async def connect(self, url: str) -> C:
        """A new connection to the broker at `url`."""

    @abstractmethod
    async def disconnect(self, connection: C) -> None:
        """Close a connection (errors are ignored)."""

    def alive(self, connection: C) -> bool:
        """Whether a connection is still usable (the default assumes so until a send fails)."""
        return True

    @abstractmethod
    async def send(
        self, connection: C, request: OutboundRequest, options: Mapping[str, Any]
    ) -> str:
        """Publish `request.body` with `request.headers` and wait for the broker's ack;
        return what the broker acknowledged (stored as the attempt's response), or raise."""

    async def publish(self, request: OutboundRequest, options: Mapping[str, Any]) -> str:
        """Send over the URL's pooled connection; if the connection turns out to be lost, send
        once more over a new one (at-least-once: the first may have arrived unacknowledged)."""
        connection = await self.pool.get(request.url)
        try:
            return await self.send(connection, request, options)
        except Exception:
            if self.alive(connection):
                raise  # the broker refused the message: another connection would not help
            await self.pool.discard(request.url, connection)
        connection = await self.pool.get(request.url)
        return await self.send(connection, request, options)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.pool.close()


def message_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers a message carries: all but HTTP framing (`Content-Type` included)."""
    return {k: v for k, v in headers.items() if k.lower() not in SKIPPED_HEADERS}
