"""The composition root: the one ASGI app (management API, UI, trigger URLs) and, with workers,
the dispatcher and workflow runner beside it in its event loop.

The only module that assembles the doors and the engines; nothing imports it but the CLI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hookhub import api, migrations, ui
from hookhub.api.auth import TokenUse
from hookhub.db.store import Store
from hookhub.inbound.route import App
from hookhub.inbound.triggers import Triggers
from hookhub.metrics import Metrics
from hookhub.outbound.client import Sender
from hookhub.outbound.intake import Intake
from hookhub.settings import Settings
from hookhub.traffic import Traffic
from hookhub.version import __version__
from hookhub.worker import Background, freeze_heap
from hookhub.workflows.runner import Runner


def create_app(settings: Settings, workers: bool = True) -> FastAPI:
    """The app for `settings`; with `workers` it also runs a dispatcher in its event loop.

    The database must already be migrated (`hookhub.migrations.upgrade`).
    """
    traffic = Traffic(settings.run_yield)

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
        background = Background(store, settings, sender, metrics, traffic) if workers else None
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
        assert isinstance(app, App)
        app.mount_triggers(app.state.triggers, metrics)
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
        traffic,
        title="hookhub",
        version=__version__,
        summary="Durable, signed webhook deliveries and webhook-triggered workflows.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.schema_heads = migrations.heads()  # read once: the files don't change
    api.install(app, settings)
    ui.install(app)
    return app
