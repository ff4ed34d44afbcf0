"""The web UI: server-rendered pages behind a login, mounted at `/` (docs/ui.md)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.staticfiles import StaticFiles

from hookhub.ui.pages import (
    auth,
    dashboard,
    deliveries,
    inbox,
    rules,
    sources,
    tokens,
    webhooks,
    workflows,
)
from hookhub.ui.web import HERE

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Add the UI's pages and its stylesheet to `app` (outside the OpenAPI schema)."""
    router = APIRouter(include_in_schema=False)
    for module in (auth, dashboard, webhooks, deliveries, rules, workflows, sources, tokens, inbox):
        router.include_router(module.router)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
