"""PostgreSQL: `attempts` is range-partitioned by `started_at`, one partition per UTC day, so
retention drops a whole expired day instead of deleting its rows one by one (migration 0010).

Daily, because retention is set in days (default 30): about 30 partitions stay live, few
enough that a query which cannot prune by time (a delivery's attempts, looked up by
delivery id; the cascade when a delivery is purged) probes each partition's index cheaply,
while a whole day expires at once. Partitions are created `AHEAD` days ahead by the workers'
housekeeping; a row outside every daily partition (a clock far off, a worker that did not run
for days) goes to the DEFAULT partition, so an insert never fails for lack of one, and is moved
into its day when that day's partition is created. Rows in the DEFAULT and in the partition
that is only partly expired are purged by the row DELETE, as on SQLite.

DDL here waits at most `LOCK_TIMEOUT` for its lock: dropping a partition locks the whole table
(PostgreSQL refuses DETACH ... CONCURRENTLY while a DEFAULT partition exists), and a statement
waiting for that lock would hold up every attempt written behind it. One that gives up is tried
again at the next purge; meanwhile the row DELETE keeps the retention promise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import TableClause, and_, column, delete, func, insert, select, table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hookhub.db import queries
from hookhub.db.tables import attempts

DAY = 86400  # seconds: the range of one partition
AHEAD = 3  # days of partitions kept ready after today: the workers create them hourly
LOCK_TIMEOUT = "200ms"  # the longest partition DDL waits for a lock (writes queue behind it)
PREFIX = "attempts_p_"  # every partition's name starts with it: none is in the declared schema
DEFAULT = PREFIX + "default"
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a statement that gave up waiting for its lock

_BOUNDS = re.compile(r"FROM \((.+)\) TO \((.+)\)")

_LISTED = text(
    "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
    " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'attempts'::regclass"
)


_ESTIMATE = text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)")


def declared(name: str | None, type_: str, parent_names: Mapping[Any, str | None]) -> bool:
    """Alembic's `include_name` for comparing a database with the declared schema: everything
    but the partitions of attempts (which hold what the partitioned table declares)."""
    owner = name if type_ == "table" else parent_names.get("table_name")
    return not (owner or "").startswith(PREFIX)


def day_name(start: float) -> str:
    """The name of the partition of the UTC day starting at `start`."""
    return PREFIX + datetime.fromtimestamp(start, UTC).strftime("%Y%m%d")


def _table(name: str) -> TableClause:
    """Partition `name`, with the columns of attempts."""
    return table(name, *(column(stored.name) for stored in attempts.c))


def _bound(value: str) -> float | None:
    # MINVALUE and MAXVALUE: open ends, None.
    return None if value.endswith("VALUE") else float(value.strip("'"))


@dataclass(frozen=True)
class Partition:
    """A partition of attempts and the started_at range it holds (None: unbounded / DEFAULT)."""

    name: str
    lower: float | None
    upper: float | None

    def overlaps(self, start: float, end: float) -> bool:
        """Whether it holds any of [start, end)."""
        if self.name == DEFAULT:
            return False
        below = self.upper is not None and self.upper <= start
        above = self.lower is not None and self.lower >= end
        return not (below or above)


def lock_timed_out(exc: DBAPIError) -> bool:
    """Whether a statement failed because its lock was not had within the lock timeout."""
    driver = exc.orig
    cause = driver.__cause__ if driver is not None else None
    state = getattr(driver, "sqlstate", None) or getattr(cause, "sqlstate", None)
    return state == LOCK_NOT_AVAILABLE


async def listed(conn: AsyncConnection) -> list[Partition]:
    """Every partition of attempts with its range."""
    found = []
    for name, bound in (await conn.execute(_LISTED)).all():
        match = _BOUNDS.search(bound)
        if match is None:
            found.append(Partition(name, None, None))
        else:
            found.append(Partition(name, _bound(match[1]), _bound(match[2])))
    return found


async def _locked(conn: AsyncConnection, name: str) -> bool:
    """Start partition DDL on `name`: bound lock waits, one worker at a time. Whether the
    table `name` exists (another worker may have just created or dropped it)."""
    await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('hookhub.partitions'))"))
    return await conn.scalar(text(f"SELECT to_regclass('{name}') IS NOT NULL")) is True


async def _create(conn: AsyncConnection, start: int) -> bool:
    """The partition of the day starting at `start`, with the rows the DEFAULT holds for it;
    False if it exists already.

    Made apart and attached: ATTACH locks the parent less than CREATE ... PARTITION OF (inserts
    go on), and scans the DEFAULT to check it holds nothing of the new range any more. Rows move
    as attempts are inserted (`queries.insert_attempts`): only while their delivery exists,
    locked FOR KEY SHARE, so a delete of it either waits and its trigger then finds the row in
    its new partition, or went first and took the row with it."""
    name, end = day_name(start), start + DAY
    if await _locked(conn, name):
        return False
    await conn.execute(text(f"CREATE TABLE {name} (LIKE attempts INCLUDING DEFAULTS)"))
    new, default = _table(name), _table(DEFAULT)
    in_range = and_(default.c.started_at >= start, default.c.started_at < end)
    moved = select(default).where(in_range, queries.delivery_kept(default.c.delivery_id))
    await conn.execute(insert(new).from_select(list(new.c.keys()), moved))
    await conn.execute(delete(default).where(in_range))
    await conn.execute(
        text(f"ALTER TABLE attempts ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end})")
    )
    return True


async def _empty(conn: AsyncConnection, name: str) -> int | None:
    """Empty partition `name`; the rows it held (None if another worker dropped it first):
    PostgreSQL's estimate once the partition was vacuumed or analyzed, as autovacuum does long
    before a day expires, else counted. Counting would read every row just for the log.

    Emptied apart from the drop: TRUNCATE locks this partition alone while its files are
    removed, so the drop, which locks the whole table, finds nothing to remove (here, for
    300,000 rows: 230 ms truncating, then a 10 ms drop, against a 320 ms drop)."""
    if not await _locked(conn, name):
        return None
    estimate = await conn.scalar(_ESTIMATE, {"name": name})
    if estimate is None or estimate < 0:  # -1: never vacuumed nor analyzed
        estimate = await conn.scalar(select(func.count()).select_from(_table(name)))
    await conn.execute(text(f"TRUNCATE {name}"))
    return round(estimate or 0)


async def _drop(conn: AsyncConnection, name: str) -> None:
    """Drop partition `name`, unless another worker did."""
    if await _locked(conn, name):
        await conn.execute(text(f"DROP TABLE {name}"))


class PartitionStore:
    """Creates and drops the partitions of attempts (reached as `Store.partitions`); does
    nothing on SQLite. Each step is its own transaction, straight on the engine: on PostgreSQL
    that is all `Store.write` adds."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.enabled = engine.dialect.name == "postgresql"

    async def _listed(self) -> list[Partition]:
        async with self.engine.begin() as conn:
            return await listed(conn)

    async def prepare(self, now: float) -> list[str]:
        """Create the partitions of the UTC days from `now`'s to `AHEAD` days later that no
        partition covers yet; their names. One whose lock was not had is left for next time."""
        if not self.enabled:
            return []
        existing = await self._listed()
        today = int(now) // DAY * DAY
        created = []
        for start in range(today, today + (AHEAD + 1) * DAY, DAY):
            if any(partition.overlaps(start, start + DAY) for partition in existing):
                continue
            try:
                async with self.engine.begin() as conn:
                    if await _create(conn, start):
                        created.append(day_name(start))
            except DBAPIError as exc:
                if not lock_timed_out(exc):
                    raise
        return created

    async def drop_expired(self, cutoff: float) -> int:
        """Empty and drop the partitions whose every row started before `cutoff`; returns the
        rows they held. One whose lock was not had is left to the row DELETE and the next purge
        (an emptied one that could not be dropped yet, to the next purge)."""
        if not self.enabled:
            return 0
        dropped = 0
        for partition in await self._listed():
            if partition.upper is None or partition.upper > cutoff:
                continue
            try:
                async with self.engine.begin() as conn:
                    rows = await _empty(conn, partition.name)
                if rows is None:
                    continue
                dropped += rows
                async with self.engine.begin() as conn:
                    await _drop(conn, partition.name)
            except DBAPIError as exc:
                if not lock_timed_out(exc):
                    raise
        return dropped
