"""`/runs`: every workflow run with its trigger request and node log; re-run one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import INSTALLATION_WIDE, Cursor, Limit, Reader, StoreDep, Writer, page
from hookhub.services import runs
from hookhub.services.runs import Status

router = APIRouter(tags=["runs"], route_class=JSONRoute, dependencies=INSTALLATION_WIDE)


@router.get("/runs", summary="List workflow runs, newest first")
async def list_runs(
    store: StoreDep,
    _: Reader,
    workflow_id: str | None = None,
    status: Status | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSON:
    return JSON(page(*await runs.listed(store, workflow_id, status, cursor, limit)))


@router.get("/runs/{run_id}", summary="Get a run: trigger request, node log, status")
async def get_run(run_id: str, store: StoreDep, _: Reader) -> JSON:
    return JSON(await runs.get(store, run_id))


@router.post("/runs/{run_id}/rerun", status_code=202, summary="Queue a run of the same request")
async def rerun(
    run_id: str,
    request: Request,
    store: StoreDep,
    _: Writer,
    options: dict[str, Any] | None = Body(
        None,
        examples=[{"webhook": {"url": "https://..."}}],
        # Read by `validate_callback`, for its messages; the schema says what it takes.
        json_schema_extra={
            "properties": {
                "webhook": {
                    "type": ["object", "null"],
                    "description": "where to send the outcome (see docs/callbacks.md)",
                }
            },
            "additionalProperties": False,
        },
    ),
) -> JSON:
    wake = request.app.state.triggers.runner.wake
    return JSON(await runs.rerun(store, run_id, options or {}, wake), status_code=202)
