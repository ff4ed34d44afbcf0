"""Redis Streams through redis-py: XADD, the entry id as the ack.

`redis(s)://user:password@host:port/db`. Options: `stream` (template: the stream's key) and
`maxlen` (trim the stream to about this many entries, 0 = never trim). Each entry's fields are
the message headers (`Content-Type`, `webhook-id`, `webhook-timestamp`, `webhook-signature`,
`X-Hook-Signature`, the webhook's own headers) and `body`, the rendered body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from hookhub.brokers import require
from hookhub.errors import ValidationError
from hookhub.outbound.destinations.base import Destination, message_headers

if TYPE_CHECKING:
    from hookhub.outbound.client import OutboundRequest

CONNECT_TIMEOUT = 5.0  # seconds
MAX_CONNECTIONS = 1000  # per Redis URL; hookhub's send concurrency bounds it first
BODY_FIELD = "body"


class RedisStreamDestination(Destination[Any]):
    kind = "redis_stream"
    schemes = ("redis", "rediss")
    library = ("redis.asyncio", "redis", "redis")
    defaults: ClassVar[Mapping[str, Any]] = {"stream": None, "maxlen": 100000}
    templates = ("stream",)

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        if options["maxlen"] < 0:
            raise ValidationError("maxlen must be 0 (no trimming) or more", field="maxlen")

    async def connect(self, url: str) -> Any:
        redis = require(*self.library or ())
        # redis-py keeps its own pool of connections for the URL and reopens them as needed.
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            max_connections=MAX_CONNECTIONS,
            health_check_interval=30,
        )
        await client.ping()
        return client

    async def disconnect(self, connection: Any) -> None:
        await connection.aclose()

    async def send(
        self, connection: Any, request: OutboundRequest, options: Mapping[str, Any]
    ) -> str:
        fields: dict[str, str | bytes] = {**message_headers(request.headers)}
        fields[BODY_FIELD] = request.body
        maxlen = options["maxlen"] or None
        entry = await connection.xadd(options["stream"], fields, maxlen=maxlen, approximate=True)
        entry_id = entry.decode() if isinstance(entry, bytes) else str(entry)
        return f"added to stream {options['stream']!r} as entry {entry_id}"
