"""A source broker plugin used by the tests (`memory://`): topics are in-process queues."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from hookhub.inbound.sources.base import Handler, Message, SourceSpec

TOPICS: defaultdict[str, asyncio.Queue[bytes]] = defaultdict(asyncio.Queue)


class MemoryBroker:
    address_field = "topic"
    extra = "memory"

    def check(self) -> None:
        pass

    async def consume(self, source: SourceSpec, consumer: str, handle: Handler) -> None:
        queue = TOPICS[source.address]
        number = 0
        while True:
            body = await queue.get()
            number += 1
            await handle([Message(f"{consumer}-{number}", body)])


BROKER = MemoryBroker()
