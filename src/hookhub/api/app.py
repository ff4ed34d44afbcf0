"""The one ASGI app: management API, health, and (with workers) the dispatcher beside it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hookhub import __version__
from hookhub.api import errors, health, v1
from hookhub.api.limits import BodyLimit
from hookhub.db.store import Store
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.settings import Settings


def create_app(settings: Settings, workers: bool = True) -> FastAPI:
    """The app for `settings`; with `workers` it also runs a dispatcher in its event loop.

    The database must already be migrated (`hookhub.migrations.upgrade`).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store.open(settings.database_url)
        app.state.store = store
        app.state.on_work = None
        stop = asyncio.Event()
        runner: asyncio.Task[None] | None = None
        dispatcher: Dispatcher | None = None
        if workers:
            dispatcher = Dispatcher(store, settings)
            app.state.on_work = dispatcher.wake
            runner = asyncio.create_task(dispatcher.run(stop))
        try:
            yield
        finally:
            stop.set()
            if runner is not None and dispatcher is not None:
                dispatcher.wake()
                await runner
                await dispatcher.sender.close()
            await store.close()

    app = FastAPI(
        title="hookhub",
        version=__version__,
        summary="Durable, signed webhook deliveries and webhook-triggered workflows.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_request_body)
    app.include_router(v1.router)
    app.include_router(health.router)
    return app
