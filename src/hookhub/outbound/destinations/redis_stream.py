"""Redis Streams through redis-py: XADD, the entry id as the ack.

`redis(s)://user:password@host:port/db`. Options: `stream` (template: the stream's key) and
`maxlen` (trim the stream to about this many entries, 0 = never trim). Each entry's fields are
the message headers (`Content-Type`, `webhook-id`, `webhook-timestamp`, `webhook-signature`,
`X-Hook-Signature`, the webhook's own headers) and `body`, the rendered body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from hookhub.brokers import require
from hookhub.errors import ValidationError
from hookhub.outbound.destinations.base import Destination, message_headers

if TYPE_CHECKING:
    from hookhub.outbound.request import OutboundRequest

CONNECT_TIMEOUT = 5.0  # seconds
MAX_CONNECTIONS = 1000  # per Redis URL; hookhub's send concurrency bounds it first
BODY_FIELD = "body"


Entry = tuple[str, dict[str, str | bytes], int | None, "asyncio.Future[Any]"]


class Batching:
    """A redis-py client whose XADDs issued in one turn of the event loop go out together,
    as one pipeline (one round trip, one write): the dispatcher sends many messages at once,
    and a command of its own costs redis-py several times a pipelined one."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._queued: list[Entry] = []
        self._flushing: set[asyncio.Task[None]] = set()

    def xadd(self, stream: str, fields: dict[str, str | bytes], maxlen: int | None) -> Any:
        """A future of the entry id XADD returns (or of its error)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append((stream, fields, maxlen, future))
        return future

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.ensure_future(self._execute(batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _execute(self, batch: list[Entry]) -> None:
        pipeline = self.client.pipeline(transaction=False)
        for stream, fields, maxlen, _ in batch:
            pipeline.xadd(stream, fields, maxlen=maxlen, approximate=True)
        try:
            results = await pipeline.execute(raise_on_error=False)
        except Exception as exc:
            results = [exc] * len(batch)
        for (*_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # its send timed out meanwhile
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def close(self) -> None:
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
        await self.client.aclose()


class RedisStreamDestination(Destination[Batching]):
    kind = "redis_stream"
    schemes = ("redis", "rediss")
    library = ("redis.asyncio", "redis", "redis")
    defaults: ClassVar[Mapping[str, Any]] = {"stream": None, "maxlen": 100000}
    templates = ("stream",)

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        if options["maxlen"] < 0:
            raise ValidationError(
                "maxlen must be 0 (no trimming) or more", field="destination.maxlen"
            )

    async def connect(self, url: str) -> Batching:
        redis = require(*self.library or ())
        # redis-py keeps its own pool of connections for the URL and reopens them as needed.
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            max_connections=MAX_CONNECTIONS,
            health_check_interval=30,
        )
        await client.ping()
        return Batching(client)

    async def disconnect(self, connection: Batching) -> None:
        await connection.close()

    async def send(
        self, connection: Batching, request: OutboundRequest, options: Mapping[str, Any]
    ) -> str:
        fields: dict[str, str | bytes] = {**message_headers(request.headers)}
        fields[BODY_FIELD] = request.body
        entry = await connection.xadd(options["stream"], fields, options["maxlen"] or None)
        entry_id = entry.decode() if isinstance(entry, bytes) else str(entry)
        return f"added to stream {options['stream']!r} as entry {entry_id}"
