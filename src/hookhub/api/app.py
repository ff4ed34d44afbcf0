"""The one ASGI app: management API, health, and (with workers) the dispatcher beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hookhub import __version__, ui
from hookhub.api import errors, health, intake_route, v1
from hookhub.api.auth import TokenUse
from hookhub.api.limits import BodyLimit
from hookhub.db.store import Store
from hookhub.inbound.route import App
from hookhub.inbound.triggers import Triggers
from hookhub.metrics import Metrics
from hookhub.outbound.client import Sender
from hookhub.outbound.intake import Intake
from hookhub.settings import Settings
from hookhub.worker import Background, freeze_heap
from hookhub.workflows.runner import Runner


def create_app(settings: Settings, workers: bool = True) -> FastAPI:
    """The app for `settings`; with `workers` it also runs a dispatcher in its event loop.

    The database must already be migrated (`hookhub.migrations.upgrade`).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store.open(settings.database_url, settings.sqlite_busy_timeout)
        # One pooled client for deliveries and synchronous sends (webhook tests).
        sender = Sender.for_settings(settings)
        app.state.store = store
        app.state.token_use = token_use = TokenUse(store)
        app.state.sender = sender
        app.state.on_work = None
        app.state.metrics = metrics = Metrics(
            store,
            workers,
            token=settings.metrics_token,
            webhook_labels=settings.metrics_webhook_labels,
        )
        background = Background(store, settings, sender, metrics) if workers else None
        # /readyz checks that its claim loop keeps turning.
        app.state.dispatcher = background.dispatcher if background else None
        if background is not None:
            app.state.on_work = background.dispatcher.wake
            background.start()
        # Without workers, sync runs still execute here; queued ones wait for `hookhub worker`.
        runner = (
            background.runner if background else Runner(store, settings, sender, metrics=metrics)
        )
        app.state.triggers = Triggers(store, settings, runner)
        app.state.intake = Intake(store, app.state.on_work)
        freeze_heap()
        try:
            yield
        finally:
            await app.state.intake.close()
            await app.state.triggers.close()
            if background is not None:
                await background.stop()
            await sender.close()
            await token_use.close()
            await store.close()

    app = App(
        title="hookhub",
        version=__version__,
        summary="Durable, signed webhook deliveries and webhook-triggered workflows.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.schema_heads = health.schema_heads()  # read once: the files don't change
    errors.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_request_body)
    app.include_router(v1.router)
    app.include_router(health.router)
    ui.install(app)
    app.mount_triggers()
    app.fast_paths[intake_route.PATH] = intake_route.EventsRoute(
        app.state, app.stack, settings.max_request_body
    )
    return app
