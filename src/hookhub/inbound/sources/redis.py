"""Redis streams, read through a consumer group (`pip install 'hookhub[redis]'`).

The group is created (at the stream's start, the stream too if missing) when absent. A
restarted process first reads back the entries it had been given but not acked (its consumer
name is the same), then new ones; entries left pending by a consumer gone for `CLAIM_IDLE`
are claimed. The message id is the stream entry id. An entry with one field has that field's
value as its body; otherwise the body is a JSON object of all its fields.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from hookhub.inbound.sources.base import BATCH, Handler, Message, SourceSpec
from hookhub.inbound.sources.brokers import missing

BLOCK = 5000  # milliseconds one read waits for new entries
# seconds a read may take before the connection counts as dead: well past BLOCK. redis-py's
# default (5 s in 8.2) is BLOCK itself: an idle read raced it and, on a loaded machine, lost,
# and the source reconnected, backing off up to 30 s, while entries waited.
READ_TIMEOUT = BLOCK / 1000 + 25.0
CLAIM_IDLE = 60_000  # milliseconds an entry stays unacked before another consumer takes it
CLAIM_EVERY = 30.0  # seconds between looks for such entries


class RedisBroker:
    address_field = "stream"
    extra = "redis"

    def check(self) -> None:
        try:
            import redis.asyncio  # noqa: F401
        except ImportError:
            raise missing(self.extra, "redis") from None

    async def consume(self, source: SourceSpec, consumer: str, handle: Handler) -> None:
        from redis.asyncio import Redis
        from redis.exceptions import ResponseError

        client: Redis = Redis.from_url(
            source.url, socket_connect_timeout=10, socket_timeout=READ_TIMEOUT
        )
        stream, group = source.address, source.group
        try:
            try:
                await client.xgroup_create(stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            position = "0"  # first what this consumer was given and did not ack
            claimed_at = time.monotonic()
            while True:
                block = None if position != ">" else BLOCK
                answer: Any = await client.xreadgroup(
                    group, consumer, {stream: position}, count=BATCH, block=block
                )
                entries = answer[0][1] if answer else []
                if position != ">":
                    if not entries:
                        position = ">"
                        continue
                    position = entries[-1][0].decode()  # pending ones after these, if any
                await _handled(client, source, entries, handle)
                if time.monotonic() - claimed_at > CLAIM_EVERY:
                    claimed_at = time.monotonic()
                    found: Any = await client.xautoclaim(
                        stream, group, consumer, CLAIM_IDLE, start_id="0-0", count=BATCH
                    )
                    await _handled(client, source, found[1], handle)
        finally:
            await client.aclose()


async def _handled(
    client: Any, source: SourceSpec, entries: Sequence[tuple[bytes, Any]], handle: Handler
) -> None:
    """Hand `entries` over, then ack them (deleted entries come back without fields: acked)."""
    if not entries:
        return
    messages = [_message(entry_id, fields) for entry_id, fields in entries if fields]
    if messages:
        await handle(messages)
    await client.xack(source.address, source.group, *[entry_id for entry_id, _ in entries])


def _message(entry_id: bytes, fields: dict[bytes, bytes]) -> Message:
    named = {key.decode("utf-8", "replace"): value for key, value in fields.items()}
    headers = {key: value.decode("utf-8", "replace") for key, value in named.items()}
    body = next(iter(named.values())) if len(named) == 1 else orjson.dumps(headers)
    return Message(id=entry_id.decode(), body=body, headers=headers)


BROKER = RedisBroker()
