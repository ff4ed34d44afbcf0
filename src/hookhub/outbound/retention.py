"""Retention: old attempts, finished deliveries and their events are purged in the background."""

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


async def purge_once(store: Store, retention_days: float, now: float | None = None) -> int:
    """Delete everything older than `retention_days`, batch by batch; returns the row count."""
    cutoff = (now or time.time()) - retention_days * DAY
    total = 0
    while True:
        deleted = await store.purge(cutoff, PURGE_BATCH)
        total += deleted
        if deleted == 0:
            return total
        await asyncio.sleep(PAUSE)


async def run_retention(store: Store, retention_days: float, stop: asyncio.Event) -> None:
    """Purge at start and then every `PURGE_EVERY` seconds until `stop`; 0 days keeps all."""
    if retention_days <= 0:
        return
    while not stop.is_set():
        try:
            deleted = await purge_once(store, retention_days)
            if deleted:
                log.info("purged %d rows older than %g days", deleted, retention_days)
        except Exception:
            log.exception("retention purge failed; trying again in %g s", PURGE_EVERY)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PURGE_EVERY)
