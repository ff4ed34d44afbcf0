"""Keep one consumer per enabled source running in a worker process.

Every `RELOAD_INTERVAL` the runner reads the enabled sources and starts, restarts (changed) or
stops consumers to match. A consumer that loses its broker (or never reaches it) records why on
its source and connects again after a backoff. A batch is acked by the broker module only once
`_Consumer.handle` returned: its events and their deliveries committed, its refused messages
recorded. A crash (even `kill -9`) before that leaves the batch unacked, and the broker delivers
it again; events keep the broker's message ids, so what was already stored is not stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable, Sequence

from hookhub.db.sources import refused_value
from hookhub.db.store import Row, Store
from hookhub.errors import HookhubError, ValidationError
from hookhub.ids import new_id
from hookhub.inbound.sources.base import MAX_SHOWN_BODY, Message, SourceSpec
from hookhub.inbound.sources.brokers import broker_for
from hookhub.inbound.sources.mapping import MAX_BODY, Mapper, Refused
from hookhub.outbound.intake import check, ingest

log = logging.getLogger("hookhub.sources")

RELOAD_INTERVAL = 5.0  # seconds between looks for added, changed or removed sources
FIRST_BACKOFF = 0.5  # seconds before the first reconnection; doubled each failure after
MAX_BACKOFF = 30.0  # seconds between reconnections at most


class SourceRunner:
    """Consumers of every enabled source, for one worker process; `on_work` wakes the
    dispatcher when events created deliveries. `consumer` names this process to brokers
    (default: the host name, stable across restarts so a restarted process takes back what
    its predecessor left unacked); a larger message than `max_body` bytes is refused."""

    def __init__(
        self,
        store: Store,
        on_work: Callable[[], None] | None = None,
        consumer: str | None = None,
        reload_interval: float = RELOAD_INTERVAL,
        max_body: int = MAX_BODY,
    ) -> None:
        self.max_body = max_body
        self.store = store
        self.on_work = on_work
        self.consumer = consumer or socket.gethostname()
        self.reload_interval = reload_interval
        self._running: dict[str, tuple[SourceSpec, asyncio.Task[None]]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; unacked messages go back to their brokers."""
        try:
            while not stop.is_set():
                try:
                    rows = await self.store.sources.enabled()
                except Exception as exc:  # the database away: keep what runs
                    log.warning("cannot read sources: %s", exc)
                else:
                    self._reconcile([SourceSpec.from_row(row) for row in rows])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.reload_interval)
        finally:
            await self._stop_all()

    def _reconcile(self, wanted: Sequence[SourceSpec]) -> None:
        specs = {spec.id: spec for spec in wanted}
        for source_id, (spec, task) in list(self._running.items()):
            if specs.get(source_id) != spec or task.done():
                task.cancel()
                del self._running[source_id]
        for source_id, spec in specs.items():
            if source_id not in self._running:
                task = asyncio.create_task(_Consumer(self, spec).run(), name=f"source {spec.name}")
                self._running[source_id] = (spec, task)

    async def _stop_all(self) -> None:
        tasks = [task for _, task in self._running.values()]
        self._running.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _Consumer:
    """One source's consumer loop, reconnecting with backoff."""

    def __init__(self, runner: SourceRunner, spec: SourceSpec) -> None:
        self.runner = runner
        self.store = runner.store
        self.spec = spec
        self.handled = False  # a batch was handled since the last connection problem
        self.mapper: Mapper | None = None

    async def run(self) -> None:
        backoff = FIRST_BACKOFF
        while True:
            try:
                self.mapper = Mapper(self.spec, self.runner.max_body)
                broker = broker_for(self.spec.url)
                broker.check()
                await broker.consume(self.spec, self.runner.consumer, self.handle)
                problem = "the broker closed the connection"
            except asyncio.CancelledError:
                raise
            except HookhubError as exc:
                problem = exc.message
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if self.handled:
                backoff, self.handled = FIRST_BACKOFF, False
            log.warning("source %s: %s; reconnecting in %.1f s", self.spec.name, problem, backoff)
            with contextlib.suppress(Exception):
                await self.store.sources.record_error(self.spec.id, problem, time.time())
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def handle(self, messages: Sequence[Message]) -> None:
        """Store the events of `messages` and record the ones refused; the broker acks after."""
        assert self.mapper is not None
        found: list[tuple[Message, Row]] = []
        refused: list[Row] = []
        for message in messages:
            try:
                event = self.mapper.event(message)
                await check(self.store, [event])  # its type's schema, if the catalog has one
                found.append((message, event))
            except Refused as exc:
                refused.append(_failure(message, str(exc)))
            except ValidationError as exc:
                refused.append(_failure(message, exc.message))
        if found:
            try:
                await ingest(self.store, [event for _, event in found], self.runner.on_work)
            except Exception as exc:
                if not refused_value(exc):
                    raise  # the database away: nothing acked, the batch comes again
                # One event's value the database refuses: the others are stored one by one.
                refused.extend(await self._one_by_one(found))
        if refused:
            last = refused[-1]["error"]
            log.info("source %s refused %d message(s): %s", self.spec.name, len(refused), last)
            await self.store.sources.record_failures(self.spec.id, refused)
        self.handled = True

    async def _one_by_one(self, found: Sequence[tuple[Message, Row]]) -> list[Row]:
        refused: list[Row] = []
        for message, event in found:
            try:
                await ingest(self.store, [event], self.runner.on_work)
            except Exception as exc:
                if not refused_value(exc):
                    raise
                why = str(getattr(exc, "orig", None) or exc).splitlines()[0]
                refused.append(_failure(message, f"the database refused the event: {why}"))
        return refused


def _failure(message: Message, error: str) -> Row:
    return {
        "id": new_id("sfl"),
        "message_id": message.id[:200] if message.id else None,
        "error": error,
        "body": message.body[:MAX_SHOWN_BODY].decode("utf-8", errors="replace"),
        "created_at": time.time(),
    }
