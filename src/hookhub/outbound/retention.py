"""Retention: old attempts, finished deliveries and their events, and portal links long expired
are purged in the background.
On PostgreSQL the same loop keeps the daily partitions of attempts ready (hookhub.db.partitions)
and drops a whole day's partition once it has expired, before deleting what is left row by row."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from hookhub.db.store import Store

log = logging.getLogger("hookhub.retention")

DAY = 86400.0
PURGE_EVERY = 3600.0  # seconds between purges
PURGE_BATCH = 1000  # rows per table per transaction
PAUSE = 0.05  # seconds between batches, so deliveries' writes are never held up for long


async def purge_once(
    store: Store, retention_days: float, now: float | None = None, drop_partitions: bool = True
) -> int:
    """Delete everything older than `retention_days`: first the attempts' partitions that
    expired whole (PostgreSQL), then the rest batch by batch; returns the row count (of a
    dropped partition, as PostgreSQL estimates it: see `hookhub.db.partitions`).
    `drop_partitions=False` deletes row by row only (benchmarks/retention.py's baseline)."""
    cutoff = (now or time.time()) - retention_days * DAY
    total = await store.partitions.drop_expired(cutoff) if drop_partitions else 0
    while True:
        deleted = await store.purge(cutoff, PURGE_BATCH)
        total += deleted
        if deleted == 0:
            return total
        await asyncio.sleep(PAUSE)


async def _prepare_partitions(store: Store) -> None:
    try:
        created = await store.partitions.prepare(time.time())
    except Exception:
        log.exception("creating partitions of attempts failed; trying again in %g s", PURGE_EVERY)
        return
    if created:
        log.info("created partitions of attempts: %s", ", ".join(created))


async def run_retention(store: Store, retention_days: float, stop: asyncio.Event) -> None:
    """At start and then every `PURGE_EVERY` seconds until `stop`: create the partitions of
    attempts ahead (PostgreSQL, also when 0 days keeps all), and purge."""
    while not stop.is_set():
        await _prepare_partitions(store)
        if retention_days > 0:
            try:
                deleted = await purge_once(store, retention_days)
                if deleted:
                    log.info("purged %d rows older than %g days", deleted, retention_days)
            except Exception:
                log.exception("retention purge failed; trying again in %g s", PURGE_EVERY)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PURGE_EVERY)
