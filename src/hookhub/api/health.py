"""Operational endpoints, without an API token: `/healthz` (the process answers), `/readyz` (its
database, schema and workers are fine) and `/metrics` (Prometheus; it takes the metrics token
instead when `HOOKHUB_METRICS_TOKEN` is set)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from hookhub.api.responses import JSON
from hookhub.db.store import Store
from hookhub.errors import Unauthorized
from hookhub.metrics import UNAUTHORIZED, Metrics
from hookhub.outbound.dispatcher import Dispatcher
from hookhub.services import readiness

router = APIRouter(tags=["health"])

READY_TIMEOUT = 2.0  # seconds each readiness check may take
# A claim loop idle for this many poll intervals is stuck (10 s at the default 0.5 s poll).
STALE_POLLS = 20


class Alive(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ready", "unavailable"])
    checks: dict[str, str] = Field(
        description="database, migrations and (with workers) workers: `ok` or what is wrong"
    )


@router.get("/healthz", summary="Liveness: the process is up", responses={200: {"model": Alive}})
async def healthz() -> JSON:
    return JSON({"status": "ok"})


@router.get(
    "/readyz",
    summary="Readiness: database reachable, schema current, workers alive",
    responses={
        200: {"model": Readiness, "description": "Every check is `ok`."},
        503: {"model": Readiness, "description": "Some check failed; it says what is wrong."},
    },
)
async def readyz(request: Request) -> JSON:
    """Each check is "ok" or says what is wrong; any failing check makes the answer 503."""
    state = request.app.state
    store: Store = state.store
    checks = {
        "database": await _check(readiness.ping(store)),
        "migrations": await _check(_migrations(store, state.schema_heads)),
    }
    dispatcher: Dispatcher | None = state.dispatcher
    if dispatcher is not None:
        checks["workers"] = _workers(dispatcher, state.settings.poll_interval)
    ready = all(result == "ok" for result in checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    return JSON(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    if not registry.authorized(request.headers.get("authorization")):
        raise Unauthorized(UNAUTHORIZED)
    return Response(await registry.scrape(), media_type=CONTENT_TYPE_LATEST)


async def _check(probe: Awaitable[str | None]) -> str:
    """`ok`, or what is wrong: the problem `probe` names, its error, or its timeout."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            problem = await probe
    except TimeoutError:
        return f"no answer within {READY_TIMEOUT:g} s"
    except Exception as exc:
        # The driver's own message: SQLAlchemy's wrapper adds the SQL and a help link.
        return str(getattr(exc, "orig", None) or exc) or type(exc).__name__
    return problem or "ok"


async def _migrations(store: Store, expected: frozenset[str]) -> str | None:
    found = await readiness.schema_revisions(store)
    if found == expected:
        return None
    return f"database schema at revision {_names(found)}, this hookhub expects {_names(expected)}"


def _workers(dispatcher: Dispatcher, poll_interval: float) -> str:
    if dispatcher.last_tick is None:
        return "the dispatcher has not started"
    idle = time.monotonic() - dispatcher.last_tick
    if idle > STALE_POLLS * poll_interval:
        return f"the dispatcher's claim loop has not run for {idle:.1f} s"
    return "ok"


def _names(revisions: Iterable[str]) -> str:
    return ", ".join(sorted(revisions)) or "none"
