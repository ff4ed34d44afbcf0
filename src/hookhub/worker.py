"""`hookhub worker`: the dispatcher alone, for running delivery capacity apart from the API."""

from __future__ import annotations

import asyncio
import logging
import signal

from hookhub.db.store import Store
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.settings import Settings

log = logging.getLogger("hookhub.worker")


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Deliver until SIGINT/SIGTERM (or `stop`), then finish in-flight sends and exit."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    store = Store.open(settings.database_url)
    dispatcher = Dispatcher(store, settings)
    log.info("worker started (concurrency %d)", settings.concurrency)
    try:
        waker = asyncio.create_task(_wake_on(stop, dispatcher))
        await dispatcher.run(stop)
        await waker
    finally:
        await dispatcher.sender.close()
        await store.close()
    log.info("worker stopped")


async def _wake_on(stop: asyncio.Event, dispatcher: Dispatcher) -> None:
    # Ends the dispatcher's idle wait at once instead of at the next poll.
    await stop.wait()
    dispatcher.wake()
