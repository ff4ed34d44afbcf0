"""`/healthz` (the process answers) and `/readyz` (the database answers too)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from hookhub.api.responses import JSON
from hookhub.db.store import Store

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> JSON:
    return JSON({"status": "ok"})


@router.get("/readyz", summary="Readiness: the database is reachable")
async def readyz(request: Request) -> JSON:
    store: Store = request.app.state.store
    try:
        async with store.read() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return JSON({"status": "unavailable", "database": str(exc)}, status_code=503)
    return JSON({"status": "ok", "database": "ok"})
