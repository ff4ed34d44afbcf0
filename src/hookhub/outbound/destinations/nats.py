"""NATS JetStream through nats-py: each message waits for the stream's ack.

`nats://user:password@host:port` (or `tls://`). Options: `subject` (template; a JetStream
stream must capture it, or the attempt fails with "no responders"), `stream` (optional: the
stream expected to take it) and `deduplicate` (default true: `Nats-Msg-Id` is the delivery id,
so JetStream stores a retried delivery once within its duplicate window).
The signature headers travel as NATS headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from hookhub.brokers import require
from hookhub.outbound.destinations.base import BrokerError, Destination, message_headers

if TYPE_CHECKING:
    from hookhub.outbound.request import OutboundRequest

CONNECT_TIMEOUT = 5.0  # seconds
ACK_TIMEOUT = 120.0  # seconds; the webhook's own timeout bounds every publish before this


class ConnectionLost(BrokerError):
    """The connection to the NATS server was lost before the ack arrived."""


class NoStream(BrokerError):
    """No JetStream stream captures the subject."""


class NatsConnection:
    """A client and its JetStream context; `lost` once the connection closed."""

    def __init__(self) -> None:
        self.client: Any = None
        self.jetstream: Any = None
        self.lost = False

    async def closed(self) -> None:
        self.lost = True
        # Requests waiting for an ack would wait out their timeout: fail them now.
        pending = getattr(self.client, "_resp_map", None) or {}
        for future in list(pending.values()):
            if not future.done():
                future.set_exception(ConnectionLost("the connection to NATS was lost"))


class NatsDestination(Destination[NatsConnection]):
    kind = "nats"
    schemes = ("nats", "tls")
    library = ("nats", "nats-py", "nats")
    defaults: ClassVar[Mapping[str, Any]] = {"subject": None, "stream": "", "deduplicate": True}
    templates = ("subject",)

    async def connect(self, url: str) -> NatsConnection:
        nats = require(*self.library or ())
        holder = NatsConnection()

        async def quiet(exc: Exception) -> None:
            return None  # the publish that meets the failure reports it

        async def lost() -> None:
            await holder.closed()

        holder.client = await nats.connect(
            servers=[url],
            allow_reconnect=False,  # the pool reconnects, with backoff
            connect_timeout=CONNECT_TIMEOUT,
            error_cb=quiet,
            disconnected_cb=lost,
            closed_cb=lost,
        )
        holder.jetstream = holder.client.jetstream()
        return holder

    async def disconnect(self, connection: NatsConnection) -> None:
        connection.lost = True
        if not connection.client.is_closed:
            await connection.client.close()

    def alive(self, connection: NatsConnection) -> bool:
        return not connection.lost and connection.client.is_connected

    async def send(
        self, connection: NatsConnection, request: OutboundRequest, options: Mapping[str, Any]
    ) -> str:
        headers = message_headers(request.headers)
        if options["deduplicate"] and "webhook-id" in headers:
            headers["Nats-Msg-Id"] = headers["webhook-id"]
        try:
            ack = await connection.jetstream.publish(
                options["subject"],
                request.body,
                timeout=ACK_TIMEOUT,
                stream=options["stream"] or None,
                headers=headers,
            )
        except require(*self.library or ()).js.errors.NoStreamResponseError:
            raise NoStream(
                f"no JetStream stream captures subject {options['subject']!r} "
                "(nats: no response from stream)"
            ) from None
        except asyncio.CancelledError:
            # nats-py cancels what waits on a connection it closes; our own cancellation
            # (a timeout, a shutdown) is told apart by the task being cancelled.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise ConnectionLost("the connection to NATS was lost") from None
        duplicate = " (a duplicate: stored once)" if ack.duplicate else ""
        return f"acknowledged by stream {ack.stream}, sequence {ack.seq}{duplicate}"
