"""The web UI: server-rendered pages behind a login, mounted at `/` (docs/ui.md)."""

from __future__ import annotations

import contextlib
import inspect

from fastapi import APIRouter, FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from hookhub.ui import portal
from hookhub.ui.pages import (
    audit,
    auth,
    dashboard,
    deliveries,
    event_types,
    events,
    inbox,
    rules,
    sources,
    tokens,
    users,
    webhooks,
    workflows,
)
from hookhub.ui.web import HERE, current_user, framed_by_self, render

__all__ = ["install"]

# Paths whose 404 stays the API's JSON error even for a browser.
MACHINE_PATHS = ("/api/", "/hooks/", "/capture/", "/static/", "/metrics", "/healthz", "/readyz")


def install(app: FastAPI) -> None:
    """Add the UI's pages, its stylesheet and icon, and an HTML "not found" page for browsers
    (outside the OpenAPI schema)."""
    router = APIRouter(include_in_schema=False)
    pages = (
        auth,
        dashboard,
        webhooks,
        deliveries,
        events,
        event_types,
        rules,
        workflows,
        sources,
        tokens,
        users,
        audit,
        inbox,
    )
    for module in pages:
        router.include_router(module.router)
    router.include_router(inbox.capture_router)
    router.include_router(portal.router)

    @router.get("/favicon.ico")
    async def favicon() -> Response:
        # Browsers ask for it on every page, API ones included: an answer, not a 404.
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    as_json = app.exception_handlers[HTTPException]

    async def not_found(request: Request, exc: Exception) -> Response:
        """A page for a browser that asked for an unknown page; the API's JSON for the rest."""
        wants_page = "text/html" in request.headers.get("accept", "")
        if not wants_page or request.url.path.startswith(MACHINE_PATHS):
            answer = as_json(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        # Logged in, the page shows the navigation too; logged out, the page alone.
        with contextlib.suppress(HTTPException):
            await current_user(request)
        message = f"There is no page at {request.url.path}."
        page = render(request, "error.html", 404, message=message, heading="Page not found")
        return framed_by_self(page)

    app.add_exception_handler(404, not_found)
