"""HTTP: the management API (`/api/v1`), health and metrics, and their error bodies."""

from __future__ import annotations

from hookhub.api import errors, health, intake_route, v1
from hookhub.api.limits import BodyLimit
from hookhub.inbound.route import App
from hookhub.settings import Settings


def install(app: App, settings: Settings) -> None:
    """Add the API's routes, its error bodies, its request size limit and the events fast path."""
    errors.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_request_body)
    app.include_router(v1.router)
    app.include_router(health.router)
    app.fast_paths[intake_route.PATH] = intake_route.EventsRoute(
        app.state, app.stack, settings.max_request_body
    )
