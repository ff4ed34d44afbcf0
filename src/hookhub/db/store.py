"""The store: every read and write hookhub makes, by name. Nothing else executes SQL."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hookhub.db import queries
from hookhub.db.engine import IMMEDIATE, create_engine
from hookhub.db.tables import attempts, deliveries, events, rules, tokens, webhooks
from hookhub.errors import Conflict, NotFound
from hookhub.ids import new_id

Row = dict[str, Any]
TOKEN_PREFIX = "hh_"  # noqa: S105 (a prefix, not a secret)
SCOPES = ("read", "write", "admin")


def hash_token(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _rows(result: Iterable[Any]) -> list[Row]:
    return [dict(row._mapping) for row in result]


class Store:
    """Named queries over one database, with SQLite writers serialized in-process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # SQLite has one writer at a time; queueing here is cheaper than its busy-wait loop.
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @classmethod
    def open(cls, url: str) -> Store:
        """A store on the database at `url` (user-facing form, e.g. sqlite:///./hookhub.db)."""
        return cls(create_engine(url))

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a read transaction."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction, committed when the block exits cleanly."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.connect() as conn:
            await conn.execution_options(**{IMMEDIATE: True})
            async with conn.begin():
                yield conn

    # -- generic resources (webhooks, rules, tokens) -------------------------------------------

    async def insert(self, table: Table, values: Mapping[str, Any]) -> Row:
        """Insert one row, turning a unique-name clash into Conflict."""
        try:
            async with self.write() as conn:
                await conn.execute(insert(table).values(**values))
        except IntegrityError as exc:
            raise _conflict(table, exc) from None
        return dict(values)

    async def get(self, table: Table, row_id: str) -> Row:
        """One row by id, or NotFound."""
        async with self.read() as conn:
            row = (await conn.execute(select(table).where(table.c.id == row_id))).first()
        if row is None:
            raise NotFound(f"no {_noun(table)} with id {row_id!r}")
        return dict(row._mapping)

    async def page(
        self,
        table: Table,
        filters: Mapping[str, Any],
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Row], str | None]:
        """Rows matching equality `filters`, newest first, after `cursor`; and the next cursor."""
        query = select(table).order_by(table.c.id.desc()).limit(limit + 1)
        for name, value in filters.items():
            if value is not None:
                query = query.where(table.c[name] == value)
        if cursor:
            query = query.where(table.c.id < cursor)
        async with self.read() as conn:
            found = _rows(await conn.execute(query))
        more = len(found) > limit
        found = found[:limit]
        return found, (found[-1]["id"] if more else None)

    async def update(self, table: Table, row_id: str, values: Mapping[str, Any]) -> Row:
        """Change some columns of one row; bumps `version` where the table has one."""
        change = dict(values)
        statement = update(table).where(table.c.id == row_id)
        if "version" in table.c:
            statement = statement.values(version=table.c.version + 1)
        try:
            async with self.write() as conn:
                result = await conn.execute(statement.values(**change))
        except IntegrityError as exc:
            raise _conflict(table, exc) from None
        if result.rowcount == 0:
            raise NotFound(f"no {_noun(table)} with id {row_id!r}")
        return await self.get(table, row_id)

    async def delete(self, table: Table, row_id: str) -> None:
        """Delete one row by id, or NotFound."""
        async with self.write() as conn:
            result = await conn.execute(delete(table).where(table.c.id == row_id))
        if result.rowcount == 0:
            raise NotFound(f"no {_noun(table)} with id {row_id!r}")

    # -- tokens -------------------------------------------------------------------------------

    async def create_token(self, name: str, scope: str) -> tuple[Row, str]:
        """A new API token; the plaintext is returned once and only its hash is kept."""
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = {
            "id": new_id("tok"),
            "name": name,
            "scope": scope,
            "token_hash": hash_token(plaintext),
            "prefix": plaintext[:8],
            "created_at": time.time(),
        }
        return await self.insert(tokens, row), plaintext

    async def token_by_plaintext(self, plaintext: str) -> Row | None:
        """The live (unrevoked) token row for a presented token, if any."""
        query = select(tokens).where(
            tokens.c.token_hash == hash_token(plaintext), tokens.c.revoked_at.is_(None)
        )
        async with self.read() as conn:
            row = (await conn.execute(query)).first()
        return dict(row._mapping) if row else None

    # -- intake ---------------------------------------------------------------------------------

    async def routable_rules(self) -> list[Row]:
        """Enabled rules. Disabled webhooks still get deliveries: they wait until re-enabled."""
        async with self.read() as conn:
            return _rows(await conn.execute(select(rules).where(rules.c.enabled.is_(True))))

    async def ingest(
        self, rows: Sequence[Row], targets: Mapping[str, Sequence[str]], now: float
    ) -> int:
        """Store events (ids seen before are skipped) and a pending delivery per (new event,
        target webhook), in one transaction. Returns the number of deliveries created."""
        if not rows:
            return 0
        async with self.write() as conn:
            result = await conn.execute(
                queries.insert_events_ignoring_duplicates(self.dialect),
                [{**row, "received_at": now} for row in rows],
            )
            new_ids = {row[0] for row in result}
            planned = [
                {
                    "id": new_id("dlv"),
                    "event_id": event_id,
                    "webhook_id": webhook_id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for event_id in new_ids
                for webhook_id in targets.get(event_id, ())
            ]
            if planned:
                await conn.execute(insert(deliveries), planned)
        return len(planned)

    # -- dispatch -----------------------------------------------------------------------------

    async def claim(self, limit: int, margin: float) -> tuple[str, list[Row], list[Row]]:
        """Lease up to `limit` due deliveries. Returns the lease id, the deliveries (oldest due
        first) and their events."""
        lease_id = new_id("lse")
        now = time.time()
        params = {"now": now, "limit": limit, "lease_id": lease_id, "margin": margin}
        async with self.write() as conn:
            claimed = _rows(await conn.execute(queries.claim_deliveries(self.dialect), params))
            if not claimed:
                return lease_id, [], []
            event_ids = list({row["event_id"] for row in claimed})
            found = _rows(await conn.execute(select(events).where(events.c.id.in_(event_ids))))
        return lease_id, claimed, found

    async def webhooks_by_id(self, ids: Iterable[str]) -> list[Row]:
        """Full webhook rows for `ids`."""
        async with self.read() as conn:
            return _rows(await conn.execute(select(webhooks).where(webhooks.c.id.in_(list(ids)))))

    async def finish(self, outcomes: Sequence[Row], attempt_rows: Sequence[Row]) -> None:
        """Write a batch of delivery outcomes (`b_*` parameters of `queries.finish_delivery`)
        and their attempt records, in one transaction."""
        async with self.write() as conn:
            if outcomes:
                await conn.execute(queries.finish_delivery(), list(outcomes))
            if attempt_rows:
                await conn.execute(insert(attempts), list(attempt_rows))

    async def attempts_of(self, delivery_id: str) -> list[Row]:
        """Every attempt of one delivery, oldest first."""
        query = (
            select(attempts)
            .where(attempts.c.delivery_id == delivery_id)
            .order_by(attempts.c.number, attempts.c.started_at)
        )
        async with self.read() as conn:
            return _rows(await conn.execute(query))


def _conflict(table: Table, exc: IntegrityError) -> Conflict:
    if "name" in table.c and "name" in str(exc.orig).lower():
        return Conflict(f"a {_noun(table)} with this name already exists", field="name")
    if "foreign key" in str(exc.orig).lower():
        return Conflict("a referenced object does not exist")
    return Conflict(f"conflicts with an existing {_noun(table)}")


def _noun(table: Table) -> str:
    """A table's name in the singular, for messages ("deliveries" -> "delivery")."""
    name = table.name
    return name[:-3] + "y" if name.endswith("ies") else name[:-1]
