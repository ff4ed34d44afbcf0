"""Named operations on the event-type catalog (reached as `Store.event_types`), and the
compiled schemas intake checks events with, kept between requests (`SchemaCache`).

Intake is the hot path: an event whose type has no schema must cost a dict lookup, not a query.
The store keeps the compiled schemas and looks at the catalog's version (how many types, the
latest change) at most every `TTL` seconds; a change made through the same store is seen at
once, one made by another process (the CLI, another API node) within `TTL` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from jsonschema.protocols import Validator
from sqlalchemy import func, select

from hookhub.core.event_schemas import compiled
from hookhub.db import direct, ingest
from hookhub.db.crud import Objects
from hookhub.db.database import Database
from hookhub.db.ingest import Statement
from hookhub.db.records import Row
from hookhub.db.tables import event_types

TTL = 1.0  # seconds the catalog's version is believed without asking the database


class SchemaCache:
    """Compiled schemas by event type name, with the catalog version they were read at."""

    def __init__(self) -> None:
        self.validators: dict[str, Validator] = {}
        self._compiled: dict[str, tuple[float, Validator]] = {}  # name → (updated_at, validator)
        self.version: tuple[int, float | None] | None = None
        self.until = 0.0  # time.monotonic() until which `version` is believed
        self.changes = 0  # local changes so far: a read that raced one is not believed
        self.refreshing: _Refresh | None = None  # the read in flight, which waiters share

    def forget(self) -> None:
        """Ask the database on the next check (the catalog was just changed here)."""
        self.until = 0.0
        self.changes += 1

    def load(self, rows: list[Row], version: tuple[int, float | None]) -> None:
        """Take the catalog's rows as read at `version`, compiling only the changed schemas."""
        fresh: dict[str, tuple[float, Validator]] = {}
        for row in rows:
            if row["schema"] is None:
                continue
            known = self._compiled.get(row["name"])
            same = known is not None and known[0] == row["updated_at"]
            fresh[row["name"]] = known if same and known else (row["updated_at"], _new(row))
        self._compiled = fresh
        self.validators = {name: validator for name, (_, validator) in fresh.items()}
        self.version = version


@dataclass(frozen=True)
class _Refresh:
    """A read of the catalog in flight, started when `changes` local changes had been made."""

    task: asyncio.Task[None]
    changes: int

    def done(self) -> bool:
        return self.task.done()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self.task.get_loop()


def _new(row: Row) -> Validator:
    schema: Mapping[str, Any] = row["schema"]
    return compiled(schema)


class EventTypeStore(Objects):
    """Create, read, change and delete event types (`Objects`, keyed and listed A to Z by
    name); the compiled schemas of the store's `SchemaCache`."""

    table = event_types
    ascending = True

    def __init__(self, store: Database, cache: SchemaCache) -> None:
        super().__init__(store)
        self.cache = cache

    async def create(self, row: Mapping[str, Any]) -> Row:
        """Store a new one; Conflict if its name is taken."""
        try:
            return await super().create(row)
        finally:
            self.cache.forget()

    async def update(self, object_id: str, values: Mapping[str, Any]) -> Row:
        """Change some columns of one; it, or NotFound."""
        try:
            return await super().update(object_id, values)
        finally:
            self.cache.forget()

    async def delete(self, object_id: str) -> None:
        """Delete one, or NotFound."""
        try:
            await super().delete(object_id)
        finally:
            self.cache.forget()

    async def names(self) -> set[str]:
        """Every event type's name (rules naming others are warned about)."""
        async with self.store.read() as conn:
            return set((await conn.execute(select(event_types.c.name))).scalars())

    async def validators(self) -> Mapping[str, Validator]:
        """The compiled schema of each event type that has one, by name; read again when the
        catalog changed (looked at every `TTL` seconds at most, by one query however many
        requests wait for it, so concurrent requests still reach intake together)."""
        cache = self.cache
        if time.monotonic() < cache.until:
            return cache.validators
        loop = asyncio.get_running_loop()
        task = cache.refreshing
        if (
            task is None
            or task.done()
            or task.get_loop() is not loop
            or task.changes != cache.changes
        ):
            task = cache.refreshing = _Refresh(loop.create_task(self._refresh()), cache.changes)
        await asyncio.shield(task.task)
        return cache.validators

    async def _refresh(self) -> None:
        cache = self.cache
        now, changes = time.monotonic(), cache.changes
        async with self.store.read() as conn:
            await ingest.run_async(conn, refresh(cache))
        if cache.changes == changes:  # a change made here meanwhile: look again next time
            cache.until = now + TTL


def refresh(cache: SchemaCache) -> Generator[Statement, list[Row], Mapping[str, Validator]]:
    """Bring `cache` up to the catalog's version (its rows are read only when it changed), as
    statements for `hookhub.db.ingest.run` or `run_async`; the compiled schemas by name."""
    version_query = cast(
        direct.Statement,
        select(
            func.count(event_types.c.name).label("n"),
            func.max(event_types.c.updated_at).label("at"),
        ),
    )
    [found] = yield version_query, None
    version = (int(found["n"]), found["at"])
    if version != cache.version:
        rows = yield select(event_types), None
        cache.load(list(rows), version)
    return cache.validators


# The outbox writes on its caller's connections, each opened on a database by URL: its
# compiled schemas are kept per database.
_OUTBOX: dict[str, SchemaCache] = {}


def outbox_cache(url: object) -> SchemaCache:
    """The compiled schemas the outbox keeps for the database at `url`."""
    return _OUTBOX.setdefault(str(url), SchemaCache())
